import { Inject, Injectable, Optional } from '@nestjs/common';
import { AuthFailureHook } from '../authentication/auth-failure.hook';
import { ipTracker } from '../authentication/client-ip';
import { DecisionHook } from '../authorization/decision.hook';
import { RateLimitedException } from '../policy.exceptions';
import { RateLimitService } from '../rate-limit/rate-limit.service';

/**
 * Limits failed authentication attempts per client IP (`rateLimits.authFailures`): once an IP has used them up,
 * its requests with credentials are refused with 429 before the credentials are even checked.
 */
@Injectable()
export class RateLimitAuthFailureHook extends AuthFailureHook {
  constructor(
    private readonly rateLimits: RateLimitService,
    @Optional() @Inject(DecisionHook) private readonly hook: DecisionHook | null,
  ) {
    super();
  }

  async beforeAttempt(ip: string): Promise<void> {
    if (await this.rateLimits.isAuthBlocked(ipTracker(ip))) throw new RateLimitedException(60, 'Too many failed authentication attempts');
  }

  async onFailure(ip: string, requestId: string, credential: 'jwt' | 'api-key'): Promise<void> {
    await this.rateLimits.recordAuthFailure(ipTracker(ip));
    if (this.hook) await this.hook.onAuthFailure(ip, requestId, credential);
  }
}
