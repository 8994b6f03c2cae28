import { describe, expect, it } from '@jest/globals';
import type { WindowStrategy as RateLimitStrategy } from './rate-limit.strategies';
import { RingHitLog } from './hit-log';
import {
  applyHit,
  applyLogHit,
  freshState,
  logExpiresAt,
  normalizeStrategy,
  stateExpiresAt,
} from './rate-limit.strategies';
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
    expect(denied).toMatchObject({
      isBlocked: true,
      remaining: 0,
      totalHits: 4,
      timeToBlockExpireMs: 700,
      timeToExpireMs: 700,
    });
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

/** A sliding-log key driven on a fake clock. */
function logKey(rule: RateLimitRuleMs, start = 1_000_000) {
  const log = new RingHitLog();
  return {
    log,
    hit: (at: number): HitResult => applyLogHit(log, start + at, rule, 1),
    peek: (at: number): HitResult => applyLogHit(log, start + at, rule, 0),
    expiresIn: (): number => logExpiresAt(log) - start,
  };
}

/** The definition: admitted while fewer than `limit` admitted hits lie in (now − ttl, now]. */
function referenceLog(ttl: number, limit: number) {
  const admittedAt: number[] = [];
  return (now: number): boolean => {
    const live = admittedAt.filter((t) => t + ttl > now).length;
    if (live >= limit) return false;
    admittedAt.push(now);
    return true;
  };
}

describe('sliding-log (exact, the default)', () => {
  it('is the default, also known as `exact`', () => {
    expect(normalizeStrategy(undefined)).toBe('sliding-log');
    expect(normalizeStrategy('exact')).toBe('sliding-log');
    expect(normalizeStrategy('token-bucket')).toBe('token-bucket');
  });

  it('counts each hit for exactly ttl after it', () => {
    const k = logKey({ ttlMs: 1000, limit: 3, blockDurationMs: 0 });
    expect([k.hit(0), k.hit(300), k.hit(600)].map((r) => r.remaining)).toEqual([2, 1, 0]);
    expect(k.hit(999)).toMatchObject({
      isBlocked: true,
      totalHits: 4,
      remaining: 0,
      timeToBlockExpireMs: 1,
      timeToExpireMs: 1,
    });
    // The hit at 0 stops counting at 1000, the one at 300 at 1300.
    expect(k.hit(1000)).toMatchObject({ isBlocked: false, totalHits: 3, remaining: 0, timeToExpireMs: 300 });
    expect(k.hit(1299)).toMatchObject({ isBlocked: true, timeToBlockExpireMs: 1 });
    expect(k.hit(1300)).toMatchObject({ isBlocked: false, totalHits: 3 });
    expect(k.hit(1301).isBlocked).toBe(true);
  });

  it('refuses the 4th of 3/s hits at 0, 0.9, 0.95, 1.4, 1.45 s (the approximation admits all five)', () => {
    const rule = { ttlMs: 1000, limit: 3, blockDurationMs: 0 };
    const exact = logKey(rule);
    expect([0, 900, 950, 1400, 1450].map((t) => exact.hit(t).isBlocked)).toEqual([false, false, false, false, true]);
    const approximate = key('sliding-window', rule);
    expect([0, 900, 950, 1400, 1450].map((t) => approximate.hit(t).isBlocked)).toEqual([
      false,
      false,
      false,
      false,
      false,
    ]);
  });

  it('reports a first hit like @nestjs/throttler: 1 hit, expiring in ttl', () => {
    const k = logKey({ ttlMs: 1000, limit: 1, blockDurationMs: 0 });
    expect(k.hit(0)).toEqual({
      totalHits: 1,
      isBlocked: false,
      remaining: 0,
      timeToExpireMs: 1000,
      timeToBlockExpireMs: 0,
    });
  });

  it('never admits more than `limit` in any ttl window, and admits whatever the definition admits', () => {
    let seed = 42;
    const random = (): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (const [ttl, limit] of [
      [1000, 1],
      [1000, 3],
      [5000, 7],
      [60_000, 40],
    ]) {
      const k = logKey({ ttlMs: ttl, limit, blockDurationMs: 0 });
      const reference = referenceLog(ttl, limit);
      const admittedAt: number[] = [];
      let now = 0;
      for (let i = 0; i < 5000; i++) {
        now += Math.floor((random() * random() * (3 * ttl)) / limit);
        const admitted = !k.hit(now).isBlocked;
        expect(admitted).toBe(reference(now));
        if (admitted) admittedAt.push(now);
        expect(k.log.size).toBeLessThanOrEqual(limit);
      }
      for (let i = limit; i < admittedAt.length; i++)
        expect(admittedAt[i] - admittedAt[i - limit]).toBeGreaterThanOrEqual(ttl);
    }
  });

  it('does not count denied hits', () => {
    const k = logKey({ ttlMs: 1000, limit: 2, blockDurationMs: 0 });
    for (let i = 0; i < 10; i++) k.hit(i);
    expect(k.log.size).toBe(2);
    expect(k.hit(1000).isBlocked).toBe(false);
  });

  it('blocks for blockDuration, then starts afresh (as @nestjs/throttler does)', () => {
    const k = logKey({ ttlMs: 10_000, limit: 1, blockDurationMs: 3000 });
    k.hit(0);
    expect(k.hit(1)).toMatchObject({ isBlocked: true, totalHits: 2, timeToBlockExpireMs: 3000 });
    expect(k.hit(2500)).toMatchObject({ isBlocked: true, timeToBlockExpireMs: 501 });
    // The block is over before the first hit's ttl: the key starts afresh.
    expect(k.hit(3001)).toMatchObject({ isBlocked: false, totalHits: 1 });
    expect(k.expiresIn()).toBe(13_001);
  });

  it('keeps a blocked key until its block ends, and an idle one until its newest hit expires', () => {
    const k = logKey({ ttlMs: 1000, limit: 1, blockDurationMs: 60_000 });
    k.hit(0);
    expect(k.expiresIn()).toBe(1000);
    k.hit(10);
    expect(k.expiresIn()).toBe(60_010);
  });

  it('peeks without counting', () => {
    const k = logKey({ ttlMs: 1000, limit: 2, blockDurationMs: 0 });
    k.hit(0);
    expect(k.peek(5)).toMatchObject({ isBlocked: false, totalHits: 1, remaining: 1 });
    k.hit(6);
    expect(k.peek(7)).toMatchObject({ isBlocked: true, totalHits: 2 });
    expect(k.log.size).toBe(2);
    expect(k.peek(1000)).toMatchObject({ isBlocked: false, totalHits: 1 });
  });

  it('a limit of 0 denies everything', () => {
    const k = logKey({ ttlMs: 1000, limit: 0, blockDurationMs: 0 });
    expect(k.hit(0).isBlocked).toBe(true);
    expect(k.hit(5000).isBlocked).toBe(true);
  });

  it('when the limit is lowered, waits until enough hits have expired', () => {
    const k = logKey({ ttlMs: 1000, limit: 4, blockDurationMs: 0 });
    [0, 100, 200, 300].forEach((t) => k.hit(t));
    const lowered = applyLogHit(k.log, 1_000_000 + 400, { ttlMs: 1000, limit: 2, blockDurationMs: 0 }, 1);
    // Three of the four must expire before one more fits under 2: the one at 200 stops counting at 1200.
    expect(lowered).toMatchObject({ isBlocked: true, timeToBlockExpireMs: 800 });
    expect(applyLogHit(k.log, 1_000_000 + 1199, { ttlMs: 1000, limit: 2, blockDurationMs: 0 }, 1).isBlocked).toBe(true);
    expect(applyLogHit(k.log, 1_000_000 + 1200, { ttlMs: 1000, limit: 2, blockDurationMs: 0 }, 1).isBlocked).toBe(
      false,
    );
  });

  it('holds at most `limit` entries and grows only with use', () => {
    const k = logKey({ ttlMs: 60_000, limit: 600, blockDurationMs: 0 });
    k.hit(0);
    expect((k.log as unknown as { entries: number[] }).entries.length).toBeLessThan(8);
    for (let i = 1; i < 5000; i++) k.hit(i);
    expect(k.log.size).toBe(600);
    expect((k.log as unknown as { entries: number[] }).entries.length).toBe(600);
  });
});
