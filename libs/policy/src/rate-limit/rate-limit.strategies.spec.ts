import { describe, expect, it } from '@jest/globals';
import type { RateLimitStrategy } from '../policy-module-options.interface';
import { applyHit, freshState, stateExpiresAt } from './rate-limit.strategies';
import type { HitResult, RateLimitRuleMs, RateLimitState } from './rate-limit.strategies';

/** A key driven on a fake clock. */
function key(strategy: RateLimitStrategy, rule: RateLimitRuleMs, start = 1_000_000) {
  const state: RateLimitState = freshState(strategy, start, rule.limit);
  return {
    state,
    hit: (at: number): HitResult => applyHit(strategy, state, start + at, rule, 1),
    peek: (at: number): HitResult => applyHit(strategy, { ...state }, start + at, rule, 0),
    expiresIn: (): number => stateExpiresAt(strategy, state, rule) - start,
  };
}

const admitted = (results: HitResult[]): number => results.filter((r) => !r.isBlocked).length;

describe('fixed-window', () => {
  const rule = { ttlMs: 1000, limit: 3, blockDurationMs: 0 };

  it('admits `limit` hits per window with decreasing remaining counts, then denies until the window ends', () => {
    const k = key('fixed-window', rule);
    expect([k.hit(0), k.hit(100), k.hit(200)].map((r) => r.remaining)).toEqual([2, 1, 0]);
    const denied = k.hit(300);
    expect(denied).toMatchObject({ isBlocked: true, remaining: 0, totalHits: 4, timeToBlockExpireMs: 700, timeToExpireMs: 700 });
    expect(k.hit(999).isBlocked).toBe(true);
    expect(k.hit(1000)).toMatchObject({ isBlocked: false, totalHits: 1, remaining: 2, timeToExpireMs: 1000 });
  });

  it('anchors windows on the first hit and skips empty windows', () => {
    const k = key('fixed-window', rule);
    k.hit(0);
    expect(k.hit(2500)).toMatchObject({ totalHits: 1, timeToExpireMs: 500 });
  });

  it('does not count denied hits', () => {
    const k = key('fixed-window', rule);
    for (let i = 0; i < 10; i++) k.hit(i);
    expect(k.state.current).toBe(3);
  });

  it('blocks for blockDuration past the window, then starts afresh', () => {
    const k = key('fixed-window', { ...rule, blockDurationMs: 5000 });
    [0, 1, 2].forEach((t) => k.hit(t));
    expect(k.hit(10)).toMatchObject({ isBlocked: true, timeToBlockExpireMs: 5000 });
    expect(k.hit(2000)).toMatchObject({ isBlocked: true, timeToBlockExpireMs: 3010 });
    expect(k.hit(5010)).toMatchObject({ isBlocked: false, totalHits: 1, remaining: 2 });
  });

  it('peeks without counting', () => {
    const k = key('fixed-window', rule);
    [0, 1].forEach((t) => k.hit(t));
    expect(k.peek(5)).toMatchObject({ isBlocked: false, totalHits: 2, remaining: 1 });
    k.hit(6);
    expect(k.peek(7)).toMatchObject({ isBlocked: true, totalHits: 3 });
    expect(k.state.current).toBe(3);
  });

  it('expires a key once its window is over', () => {
    const k = key('fixed-window', rule);
    k.hit(0);
    expect(k.expiresIn()).toBe(1000);
  });
});

describe('sliding-window', () => {
  const rule = { ttlMs: 1000, limit: 10, blockDurationMs: 0 };

  it('weighs the previous window by how much of it still overlaps the last ttl', () => {
    const k = key('sliding-window', rule);
    for (let i = 0; i < 10; i++) k.hit(i);
    expect(k.hit(999).isBlocked).toBe(true);
    // At 1000 the whole previous window still counts; at 1500 half of it does.
    expect(k.hit(1000).isBlocked).toBe(true);
    const atHalf = Array.from({ length: 6 }, () => k.hit(1500));
    expect(admitted(atHalf)).toBe(5);
    expect(atHalf[4]).toMatchObject({ totalHits: 10, remaining: 0 });
  });

  it('tells a denied caller exactly when a slot frees', () => {
    const k = key('sliding-window', rule);
    for (let i = 0; i < 10; i++) k.hit(0);
    const denied = k.hit(999);
    expect(denied.timeToBlockExpireMs).toBe(2);
    expect(k.hit(1000).isBlocked).toBe(true);
    expect(k.hit(999 + denied.timeToBlockExpireMs).isBlocked).toBe(false);
  });

  it('computes the wait when the previous window is what denies', () => {
    const k = key('sliding-window', rule);
    for (let i = 0; i < 10; i++) k.hit(0);
    for (let i = 0; i < 3; i++) expect(k.hit(1300).isBlocked).toBe(false); // 7 weighted + 3
    const denied = k.hit(1300);
    expect(denied).toMatchObject({ isBlocked: true, totalHits: 11 });
    const at = 1300 + denied.timeToBlockExpireMs;
    expect(k.peek(at - 1).isBlocked).toBe(true);
    expect(k.hit(at).isBlocked).toBe(false);
  });

  it('forgets a window two windows back', () => {
    const k = key('sliding-window', rule);
    for (let i = 0; i < 10; i++) k.hit(0);
    expect(k.hit(2000)).toMatchObject({ isBlocked: false, totalHits: 1 });
    expect(k.state.previous).toBe(0);
  });

  it('keeps a key until the previous window no longer counts', () => {
    const k = key('sliding-window', rule);
    k.hit(100);
    expect(k.expiresIn()).toBe(2000);
  });

  it('honours blockDuration', () => {
    const k = key('sliding-window', { ...rule, limit: 1, blockDurationMs: 3000 });
    k.hit(0);
    expect(k.hit(1).timeToBlockExpireMs).toBe(3000);
    expect(k.hit(2500).isBlocked).toBe(true);
    expect(k.hit(3001).isBlocked).toBe(false);
  });
});

describe('token-bucket', () => {
  const rule = { ttlMs: 1000, limit: 4, blockDurationMs: 0 };

  it('allows a burst of `limit`, then refills `limit` tokens per ttl', () => {
    const k = key('token-bucket', rule);
    expect([0, 0, 0, 0].map((t) => k.hit(t).remaining)).toEqual([3, 2, 1, 0]);
    const denied = k.hit(0);
    expect(denied).toMatchObject({ isBlocked: true, timeToBlockExpireMs: 250, timeToExpireMs: 1000 });
    expect(k.hit(249).isBlocked).toBe(true);
    expect(k.hit(250)).toMatchObject({ isBlocked: false, remaining: 0 });
    expect(k.peek(1250)).toMatchObject({ isBlocked: false, remaining: 4, totalHits: 0 });
  });

  it('never holds more than `limit` tokens', () => {
    const k = key('token-bucket', rule);
    k.hit(0);
    k.hit(60_000);
    expect(k.state.current).toBe(3);
  });

  it('expires a key when its bucket is full again', () => {
    const k = key('token-bucket', rule);
    k.hit(0);
    k.hit(0);
    expect(k.expiresIn()).toBe(500);
  });

  it('honours blockDuration and starts with a full bucket afterwards', () => {
    const k = key('token-bucket', { ...rule, limit: 1, blockDurationMs: 10_000 });
    k.hit(0);
    expect(k.hit(1)).toMatchObject({ isBlocked: true, timeToBlockExpireMs: 10_000 });
    expect(k.hit(5000).isBlocked).toBe(true);
    expect(k.hit(10_001)).toMatchObject({ isBlocked: false, remaining: 0 });
  });
});

describe.each<RateLimitStrategy>(['fixed-window', 'sliding-window', 'token-bucket'])('%s, common rules', (strategy) => {
  it('a limit of 0 denies everything', () => {
    const k = key(strategy, { ttlMs: 1000, limit: 0, blockDurationMs: 0 });
    expect(k.hit(0).isBlocked).toBe(true);
    expect(k.hit(5000).isBlocked).toBe(true);
  });

  it('keeps four numbers of state whatever the traffic', () => {
    const k = key(strategy, { ttlMs: 60_000, limit: 100_000, blockDurationMs: 0 });
    for (let i = 0; i < 50_000; i++) k.hit(i);
    expect(Object.keys(k.state).sort()).toEqual(['blockedUntil', 'current', 'previous', 'windowStart']);
    expect(Object.values(k.state).every((v) => typeof v === 'number')).toBe(true);
  });
});
