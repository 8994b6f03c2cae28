import { keepNextTickShape, keptNextTickEntry } from './tick-shape';

describe('keepNextTickShape under fake timers', () => {
  afterEach(() => jest.useRealTimers());

  it('keeps nothing when its callback runs outside Node’s queue, and tries again on the next call', async () => {
    jest.useFakeTimers({ doNotFake: [] });
    keepNextTickShape();
    jest.runAllTicks();
    expect(keptNextTickEntry()).toBeNull();
    jest.useRealTimers();
    keepNextTickShape();
    await new Promise((resolve) => setImmediate(resolve));
    const kept = keptNextTickEntry() as { callback?: unknown } | null;
    expect(kept).not.toBeNull();
    expect(typeof kept?.callback).toBe('function');
  });
});
