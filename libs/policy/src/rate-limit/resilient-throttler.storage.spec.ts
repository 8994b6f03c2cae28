import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { PolicyUnavailableException } from '../policy.exceptions';
import { MemoryThrottlerStorage } from './memory-throttler.storage';
import type { PeekableThrottlerStorage } from './rate-limit.interfaces';
import { ResilientThrottlerStorage } from './resilient-throttler.storage';

/** A primary that fails while `down` is true and counts how often it was asked. */
function flakyPrimary() {
  const memory = new MemoryThrottlerStorage({ strategy: 'fixed-window' });
  const state = { down: false, calls: 0 };
  const guard = <T>(answer: () => Promise<T>): Promise<T> => {
    state.calls++;
    return state.down ? Promise.reject(new Error('connect ECONNREFUSED')) : answer();
  };
  const primary: PeekableThrottlerStorage = {
    increment: (...args) => guard(() => memory.increment(...args)),
    peek: (...args) => guard(() => memory.peek(...args)),
  };
  return { primary, state, close: () => memory.close() };
}

describe('ResilientThrottlerStorage', () => {
  let clock = 0;
  const now = () => clock;
  const cleanups: (() => void)[] = [];
  afterEach(() => {
    cleanups.splice(0).forEach((fn) => fn());
    jest.restoreAllMocks();
  });
  function setup(failMode: 'open' | 'closed') {
    clock = 1_000_000;
    jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    const flaky = flakyPrimary();
    const storage = new ResilientThrottlerStorage(flaky.primary, { failMode, now, strategy: 'fixed-window' });
    cleanups.push(flaky.close, () => storage.onModuleDestroy());
    return { ...flaky, storage };
  }

  it('answers from the primary while it works', async () => {
    const { storage, state } = setup('closed');
    await expect(storage.increment('k', 1000, 1, 0, 'default')).resolves.toMatchObject({ isBlocked: false });
    expect(state.calls).toBe(1);
    expect(storage.degraded).toBe(false);
  });

  it('fails closed by default: 503 while the primary is down', async () => {
    const { storage, state } = setup('closed');
    expect(new ResilientThrottlerStorage(storage).failMode).toBe('closed');
    state.down = true;
    await expect(storage.increment('k', 1000, 1, 0, 'default')).rejects.toBeInstanceOf(PolicyUnavailableException);
    await expect(storage.peek('k', 1000, 1, 0, 'default')).rejects.toMatchObject({ status: 503 });
    expect(storage.degraded).toBe(true);
  });

  it('fails open onto a per-process limiter that still limits', async () => {
    const { storage, state } = setup('open');
    state.down = true;
    await expect(storage.increment('k', 1000, 2, 0, 'default')).resolves.toMatchObject({ isBlocked: false });
    await expect(storage.increment('k', 1000, 2, 0, 'default')).resolves.toMatchObject({ isBlocked: false });
    await expect(storage.increment('k', 1000, 2, 0, 'default')).resolves.toMatchObject({ isBlocked: true });
  });

  it('probes the primary at most once per interval, and returns to it when it answers', async () => {
    const { storage, state } = setup('open');
    state.down = true;
    await storage.increment('k', 1000, 100, 0, 'default');
    for (let i = 0; i < 50; i++) await storage.increment('k', 1000, 100, 0, 'default');
    expect(state.calls).toBe(1);
    clock += 1000;
    await storage.increment('k', 1000, 100, 0, 'default');
    expect(state.calls).toBe(2);
    state.down = false;
    clock += 500;
    await storage.increment('k', 1000, 100, 0, 'default');
    expect(state.calls).toBe(2);
    clock += 500;
    await storage.increment('k', 1000, 100, 0, 'default');
    expect(state.calls).toBe(3);
    expect(storage.degraded).toBe(false);
    await storage.increment('k', 1000, 100, 0, 'default');
    expect(state.calls).toBe(4);
  });
});
