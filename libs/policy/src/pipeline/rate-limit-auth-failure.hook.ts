import { Inject, Injectable, Optional } from '@nestjs/common';
import { AuthFailureHook } from '../authentication/auth-failure.hook';
import { ipTracker } from '../authentication/client-ip';
import { DecisionHook } from '../authorization/decision.hook';
import { POLICY_CLOCK } from '../policy.constants';
import { RateLimitedException } from '../policy.exceptions';
import { RateLimitService } from '../rate-limit/rate-limit.service';

const MAX_BLOCKED = 100_000;

/**
 * Limits failed authentication attempts per client IP (`rateLimits.authFailures`): once an IP has used them up,
 * its requests with credentials are refused with 429 before the credentials are even checked.
 *
 * Failures are counted in the shared storage (Redis when configured), so every instance adds to one count. Whether
 * an IP is blocked is remembered by the instance that saw it go over the limit, so the check before each
 * authenticated request costs no round trip; another instance blocks the IP at its own first failure past the
 * limit. An attacker spreading guesses over N instances thus gets at most N attempts past the limit, never more.
 */
@Injectable()
export class RateLimitAuthFailureHook extends AuthFailureHook {
  private readonly blockedUntil = new Map<string, number>();

  constructor(
    private readonly rateLimits: RateLimitService,
    @Optional() @Inject(DecisionHook) private readonly hook: DecisionHook | null,
    @Optional() @Inject(POLICY_CLOCK) private readonly clock: (() => number) | null,
  ) {
    super();
  }

  async beforeAttempt(ip: string): Promise<void> {
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

  async onFailure(ip: string, requestId: string, credential: 'jwt' | 'api-key', tenantId: string | null = null): Promise<void> {
    const tracker = ipTracker(ip);
    const outcome = await this.rateLimits.recordAuthFailure(tracker);
    if (!outcome.allowed || outcome.remaining === 0) {
      if (this.blockedUntil.size >= MAX_BLOCKED) this.evictExpired();
      const seconds = outcome.allowed ? outcome.resetSeconds : outcome.retryAfterSeconds;
      this.blockedUntil.set(tracker, this.now() + Math.max(1, seconds) * 1000);
    }
    if (this.hook) await this.hook.onAuthFailure(ip, requestId, credential, tenantId);
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
