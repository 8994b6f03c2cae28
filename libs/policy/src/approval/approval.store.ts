import type { AuditOrigin } from '../audit/audit-event.interface';
import type { Principal } from '../authentication/principal.interface';
import type { ApprovalStatus } from './approval.entity';

/** An approval as the API shows it; times are ISO 8601 and `status` reads `expired` once the deadline has passed. */
export interface ApprovalView {
  readonly id: string;
  readonly principalId: string;
  readonly tenantId: string | null;
  readonly operation: string;
  readonly requestDigest: string;
  readonly reason: string | null;
  readonly status: ApprovalStatus;
  readonly decidedBy: string | null;
  readonly decidedAt: string | null;
  readonly expiresAt: string;
  readonly createdAt: string;
  readonly consumedAt: string | null;
}

export interface CreateApprovalInput {
  readonly principal: Principal;
  readonly operation: string;
  /** {@link requestDigest} of the request that needs approval. */
  readonly digest: string;
  readonly reason?: string | null;
  /** Milliseconds the approval may wait for a decision and then be used (default 15 minutes). */
  readonly ttlMs?: number;
  /** The request that asked, for the audit event. */
  readonly origin?: AuditOrigin;
}

/**
 * Where the approval gate keeps approvals: create a pending one, spend an approved one once. The library's
 * {@link ApprovalService} (the app's database) is the default; replace it by providing this class token
 * (`providers: [{ provide: ApprovalStore, useClass: MyStore }]` or `overrideProvider(ApprovalStore)`).
 */
export abstract class ApprovalStore {
  /** Stores a pending approval of one exact request (or answers the one already pending for it). */
  abstract create(input: CreateApprovalInput): Promise<ApprovalView>;
  /** Spends an approved approval for exactly this principal, operation and request digest: true at most once. */
  abstract consume(id: string, principal: Principal, operation: string, digest: string): Promise<boolean>;
  /**
   * Gives back an approval {@link consume} spent for `principal` on a call that was then refused before it ran (a
   * budget refusal): it is approved again, until its deadline. True when it was given back. A store that cannot give
   * approvals back keeps this default: the approval stays spent (fails closed).
   */
  restore(_id: string, _principal: Principal): Promise<boolean> {
    return Promise.resolve(false);
  }

  /**
   * The status of an approval, for a caller that waits on one (a run paused at a limit): null when unknown. A store
   * that cannot tell keeps this default; the waiter then waits until the approval's deadline or until it is spent.
   */
  status(_id: string): Promise<ApprovalStatus | null> {
    return Promise.resolve(null);
  }
}
