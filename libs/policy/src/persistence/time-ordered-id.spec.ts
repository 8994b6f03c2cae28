import { timeOrderedUuid } from './time-ordered-id';

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('timeOrderedUuid', () => {
  it('is a UUID version 7 whose first 48 bits are the time in ms', () => {
    for (const now of [0, 1, 0xffff_ffff, 0x1_0000_0000, Date.UTC(2026, 11, 7, 19, 5, 1, 234), 2 ** 48 - 1]) {
      const id = timeOrderedUuid(now);
      expect(id).toMatch(V7);
      expect(parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(now);
    }
  });

  it('sorts by time as a string, and is unique within a millisecond', () => {
    const now = Date.now();
    const ids = Array.from({ length: 50_000 }, (_, i) => timeOrderedUuid(now + Math.floor(i / 1_000)));
    expect(new Set(ids).size).toBe(ids.length);
    for (let i = 1_000; i < ids.length; i += 1_000) expect(ids[i - 1] < ids[i]).toBe(true);
    // The random part really varies: every hex digit of the last group shows up.
    expect(new Set(ids.map((id) => id.slice(-1))).size).toBe(16);
  });
});
