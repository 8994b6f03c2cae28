import { Injectable, Logger } from '@nestjs/common';
import { AuthorizationPolicy } from './authorization-policy';
import type { PermissionDecision, PolicyContext, RateLimitDecision } from './policy-context.interface';

/**
 * Allows every authenticated call and limits nothing. For local development only: it warns loudly at boot and
 * refuses to start when NODE_ENV is `production`.
 * @throws Error at construction when NODE_ENV=production.
 */
@Injectable()
export class DevelopmentAuthorizationPolicy extends AuthorizationPolicy {
  private readonly logger = new Logger('DevelopmentAuthorizationPolicy');

  constructor() {
    super();
    if (process.env.NODE_ENV === 'production') {
      throw new Error('policy: DevelopmentAuthorizationPolicy refuses to run with NODE_ENV=production');
    }
    this.logger.warn('DevelopmentAuthorizationPolicy ALLOWS EVERY CALL. Never use it outside local development.');
  }

  async checkPermission(_ctx: PolicyContext, _operation: string): Promise<PermissionDecision> {
    return { allowed: true, reasons: ['development policy allows all'], recordScope: {} };
  }

  async checkRateLimit(_ctx: PolicyContext, _operation: string | null): Promise<RateLimitDecision | null> {
    return null;
  }
}
