/** Human approvals of individual calls (REQUIRE_APPROVAL): create, list, decide, consume once. */

/**
 * Creates, lists, decides and consumes approvals; `requestDigest` binds an approval to one exact request.
 * @example
 * ```ts
 * const digest = approvals.requestDigest({ method: req.method, path: req.url, body: req.body });
 * if (!(await approvals.consume(approvalId, principal, 'tool.invoke', digest))) {
 *   const created = await approvals.create({ principal, operation: 'tool.invoke', digest, reason: 'refund above limit' });
 *   throw new ApprovalRequiredException(created.id, created.expiresAt);
 * }
 * await approvals.decide(id, admin, 'approve');
 * ```
 * @throws PolicyNotFoundException from `decide()` for a missing or other tenant's approval; PolicyForbiddenException
 * when it is decided, expired or the decider's own; ValidationFailedException for bad input.
 */
export {
  ApprovalService,
  DEFAULT_APPROVAL_TTL_MS,
  requestDigest,
  type ApprovalListQuery,
  type ApprovalRequestShape,
  type ApprovalView,
  type CreateApprovalInput,
} from './approval.service';

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
