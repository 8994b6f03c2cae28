import { Inject, Injectable, Optional } from '@nestjs/common';
import { PolicyEventSubscriber, type PolicyEvent, type PolicyEventListener } from '../common/policy-events';
import { POLICY_CLOCK } from '../policy.constants';
import { RateLimitedException } from '../policy.exceptions';
import { RateLimitService } from '../rate-limit/rate-limit.service';
import { ipTracker } from './client-ip';

const MAX_BLOCKED = 100_000;

/**
 * Limits failed authentication attempts per client IP (`rateLimits.authFailures`): it counts the `auth.failure`
 * events of the `PolicyEvents` sink, and once an IP has used its attempts up the authentication guard's
 * {@link AuthFailureCounter.beforeAttempt} refuses its requests with credentials (429) before they are even checked.
 * Replace it by providing this class token.
 *
 * Failures are counted in the shared storage (Redis when configured), so every instance adds to one count. Whether
 * an IP is blocked is remembered by the instance that saw it go over the limit, so the check before each
 * authenticated request costs no round trip; another instance blocks the IP at its own first failure past the
 * limit. An attacker spreading guesses over N instances thus gets at most N attempts past the limit, never more.
 */
@PolicyEventSubscriber()
@Injectable()
export class AuthFailureCounter implements PolicyEventListener {
  private readonly blockedUntil = new Map<string, number>();

  constructor(
    private readonly rateLimits: RateLimitService,
    @Optional() @Inject(POLICY_CLOCK) private readonly clock: (() => number) | null,
  ) {}

  /**
   * Throws (429) when the IP has used up its failed attempts. Answers at once (a replacement may answer a promise,
   * which the authentication guard awaits).
   */
  beforeAttempt(ip: string): void | Promise<void> {
    const tracker = ipTracker(ip);
    const until = this.blockedUntil.get(tracker);
    if (until === undefined) return;
    const now = this.now();
    if (until <= now) {
      this.blockedUntil.delete(tracker);
      return;
    }
    throw new RateLimitedException(Math.ceil((until - now) / 1000), 'Too many failed authentication attempts');
  }

  onPolicyEvent(event: PolicyEvent): Promise<void> | undefined {
    return event.type === 'auth.failure' ? this.recordFailure(event.ip) : undefined;
  }

  /** Counts one failed attempt of `ip`, blocking it once its attempts are used up. */
  async recordFailure(ip: string): Promise<void> {
    const tracker = ipTracker(ip);
    const outcome = await this.rateLimits.recordAuthFailure(tracker);
    if (!outcome.allowed || outcome.remaining === 0) {
      if (this.blockedUntil.size >= MAX_BLOCKED) this.evictExpired();
      const seconds = outcome.allowed ? outcome.resetSeconds : outcome.retryAfterSeconds;
      this.blockedUntil.set(tracker, this.now() + Math.max(1, seconds) * 1000);
    }
  }

  private now(): number {
    return (this.clock ?? Date.now)();
  }

  private evictExpired(): void {
    const now = this.now();
    for (const [tracker, until] of this.blockedUntil) if (until <= now) this.blockedUntil.delete(tracker);
    // Still full of live blocks: forget the oldest rather than grow without bound.
    for (const tracker of this.blockedUntil.keys()) {
      if (this.blockedUntil.size < MAX_BLOCKED) break;
      this.blockedUntil.delete(tracker);
    }
  }
}
