/** Human approvals of individual calls (REQUIRE_APPROVAL): create, list, decide, consume once. */

/**
 * The one place where approvals are asked for and spent, after everything else allowed the call: with the id of an
 * approval granted for this exact call it passes once, otherwise it stores a pending approval and refuses with 403
 * `approval_required`. The guards and the tool executor use it; so can an app's own flow.
 * @example
 * ```ts
 * await gate.pass({ principal, operation: 'refund.create', request: { method: 'POST', path: '/refunds', body },
 *   approvalId: req.headers['x-approval-id'], reason: 'refund above limit' });
 * ```
 * @throws ApprovalRequiredException (403 `approval_required`, with the new approval's id) or PolicyForbiddenException
 * from `pass()`; `check()` answers the refusal instead.
 */
export { ApprovalGate, type ApprovalCall, type ApprovalGateResult } from './approval.gate';

/**
 * Where the gate keeps approvals (`create`, `consume`); the default is the database-backed `ApprovalService`.
 * Provide this token to replace it.
 * @example
 * ```ts
 * PolicyModule.forRoot({ ..., providers: [{ provide: ApprovalStore, useClass: MyApprovalStore }] })
 * ```
 */
export { ApprovalStore, type ApprovalView, type CreateApprovalInput } from './approval.store';

/**
 * SHA-256 of method, path and body: binds an approval to one exact request.
 * @example `const digest = requestDigest({ method: 'POST', path: '/refunds', body });`
 */
export { requestDigest, type ApprovalRequestShape } from './request-digest';

/**
 * Creates, lists, decides and consumes approvals in the app's database.
 * @example
 * ```ts
 * await approvals.decide(id, admin, 'approve');
 * ```
 * @throws PolicyNotFoundException from `decide()` for a missing or other tenant's approval; PolicyForbiddenException
 * when it is decided, expired or the decider's own; ValidationFailedException for bad input.
 */
export { ApprovalService, DEFAULT_APPROVAL_TTL_MS, type ApprovalListQuery } from './approval.service';

/**
 * The approvals table.
 * @example
 * ```ts
 * new DataSource({ type: 'better-sqlite3', database, entities: [...APPROVAL_ENTITIES], migrations: [...APPROVAL_MIGRATIONS] });
 * ```
 */
export { ApprovalEntity, type ApprovalStatus } from './approval.entity';
/** @example `migrations: [CreateApprovalTables1764000000002]` */
export { CreateApprovalTables1764000000002 } from './approval.migrations';
/** @example `entities: [...APPROVAL_ENTITIES], migrations: [...APPROVAL_MIGRATIONS]` */
export { APPROVAL_ENTITIES, APPROVAL_MIGRATIONS } from './approval.persistence';
