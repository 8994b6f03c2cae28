import type { PermissionDecision, PolicyContext, RateLimitDecision } from './policy-context.interface';

/** Called by the guards after each decision (the library's audit log implements it). */
export abstract class DecisionHook {
  abstract onDenied(ctx: PolicyContext, operation: string, decision: PermissionDecision): Promise<void>;
  abstract onGranted(ctx: PolicyContext, operation: string, decision: PermissionDecision): Promise<void>;
  abstract onRateLimited(ctx: PolicyContext, operation: string | null, decision: RateLimitDecision): Promise<void>;
  /** `tenantId`: the tenant of the API key the attempt named, when that key exists. */
  abstract onAuthFailure(ip: string, requestId: string, credential: 'jwt' | 'api-key', tenantId?: string | null): Promise<void>;
}
