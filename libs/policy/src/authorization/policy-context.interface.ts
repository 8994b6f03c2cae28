import type { Principal } from '../authentication/principal.interface';
import type { RecordScope } from './tenant.rules';

/** What a decision knows about the call being decided. */
export interface PolicyContext {
  readonly principal: Principal;
  /** Scopes the route requires (`@RequireScopes`). */
  readonly requiredScopes: readonly string[];
  readonly requestId: string;
  readonly ip: string;
  readonly method?: string;
  readonly path?: string;
  /** An approval id the caller presents (`X-Approval-Id`). */
  readonly approvalId?: string;
  /** The parsed request body, for binding approvals to one exact call. */
  readonly body?: unknown;
  /** `Class.method` of the route being called. */
  readonly route?: string;
  /** A route-level `@Throttle()` limit that replaces the principal's default bucket for this route. */
  readonly routeLimit?: { limit: number; ttlMs: number; blockDurationMs: number };
}

export type PermissionDenialCode = 'forbidden' | 'insufficient_scope' | 'not_found' | 'approval_required';

/** The result of {@link AuthorizationPolicy.checkPermission}. */
export interface PermissionDecision {
  readonly allowed: boolean;
  readonly code?: PermissionDenialCode;
  readonly reasons: readonly string[];
  /** Scopes missing from the token (for `insufficient_scope`). */
  readonly missingScopes?: readonly string[];
  /** The records the principal may reach: its tenant and, for `own` roles, itself as owner. */
  readonly recordScope: RecordScope;
  /** Set when the decision is REQUIRE_APPROVAL: the pending approval to present. */
  readonly approval?: { id: string; expiresAt: string };
}

/** The result of {@link AuthorizationPolicy.checkRateLimit} for the bucket nearest exhaustion. */
export interface RateLimitDecision {
  readonly allowed: boolean;
  readonly limit: number;
  readonly remaining: number;
  /** Seconds until the bucket resets. */
  readonly resetSeconds: number;
  /** Seconds to wait before retrying (when denied). */
  readonly retryAfterSeconds: number;
  readonly bucket: string;
  /** The bucket's window in seconds, when known. */
  readonly windowSeconds?: number;
}
