import type { Principal } from '../authentication/principal.interface';
import type { JsonValue } from './canonical-json';

/** Every kind of audit event. */
export const AUDIT_EVENT_TYPES = [
  'auth.failure',
  'access.denied',
  'access.granted',
  'rate_limit.exceeded',
  'budget.exceeded',
  'budget.soft_limit',
  'approval.requested',
  'approval.decided',
  'api_key.created',
  'api_key.revoked',
  'token.revoked',
  'audit.dropped',
  'tool.invoked',
  'tool.denied',
  'security.anomaly',
] as const;

export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number];

/**
 * How the audited action ended. The first three are the policy engine's outcomes; `SHADOW_DENY` is a refusal a
 * control in shadow mode let pass; `TIMEOUT` a tool that ran past its time.
 */
export type AuditOutcome =
  'ALLOW' | 'DENY' | 'REQUIRE_APPROVAL' | 'SHADOW_DENY' | 'SUCCESS' | 'FAILURE' | 'TIMEOUT' | 'WARNING';

/** A reason: a sentence, or a structured entry such as a policy engine reason. */
export type AuditReason = string | Record<string, unknown>;

/** An event handed to the writer: complete but not yet redacted, chained or hashed. */
export interface AuditEventDraft {
  readonly id: string;
  readonly type: AuditEventType;
  readonly outcome: AuditOutcome;
  readonly principalId: string | null;
  readonly tenantId: string | null;
  readonly operation: string | null;
  readonly reasons: readonly AuditReason[];
  readonly requestId: string | null;
  /** The client IP as seen by the app; the writer hashes it when `hashIpSalt` is configured. */
  readonly ip: string | null;
  readonly details: Record<string, unknown> | null;
  /** Epoch milliseconds. */
  readonly createdAt: number;
}

/** What {@link AuditService.record} needs; the rest (id, time, request id) is filled in. */
export interface AuditEventInput {
  readonly type: AuditEventType;
  readonly outcome: AuditOutcome;
  /** Fills `principalId` and `tenantId` when those are not given. */
  readonly principal?: Principal | null;
  readonly principalId?: string | null;
  readonly tenantId?: string | null;
  readonly operation?: string | null;
  readonly reasons?: readonly AuditReason[];
  readonly requestId?: string | null;
  readonly ip?: string | null;
  readonly details?: Record<string, unknown> | null;
  readonly id?: string;
  /** Epoch milliseconds; defaults to now. */
  readonly createdAt?: number;
}

/** Where an action came from: the request id and client IP an event caused by it carries. */
export interface AuditOrigin {
  readonly requestId?: string | null;
  readonly ip?: string | null;
}

/** A stored event as the API shows it. */
export interface AuditEventView {
  readonly id: string;
  readonly chainId: string;
  readonly seq: number;
  readonly type: string;
  readonly outcome: string;
  readonly principalId: string | null;
  readonly tenantId: string | null;
  readonly operation: string | null;
  readonly reasons: JsonValue;
  readonly requestId: string | null;
  readonly ip: string | null;
  readonly details: JsonValue;
  /** ISO 8601. */
  readonly createdAt: string;
  readonly prevHash: string;
  readonly hash: string;
}

/** The answer of `GET /audit/verify`. `firstBrokenId` is the earliest event whose link or hash does not hold. */
export interface AuditVerification {
  readonly valid: boolean;
  readonly checked: number;
  readonly firstBrokenId: string | null;
}
