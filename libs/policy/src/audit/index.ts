/**
 * The audit log: redacted, hash-chained events, written in batches off the request path.
 * Each process writes its own chain (`chain_id`); `verify()` checks every chain.
 */

/**
 * Event types and shapes.
 * @example
 * ```ts
 * const input: AuditEventInput = { type: 'access.denied', outcome: 'DENY', principal, operation: 'agent.delete', reasons: decision.reasons };
 * AUDIT_EVENT_TYPES.includes('auth.failure'); // true
 * ```
 */
export {
  AUDIT_EVENT_TYPES,
  type AuditEventDraft,
  type AuditEventInput,
  type AuditEventType,
  type AuditEventView,
  type AuditOrigin,
  type AuditOutcome,
  type AuditReason,
  type AuditVerification,
} from './audit-event.interface';

/**
 * Records events (filling id, time and request id), lists them newest first with an opaque cursor, and verifies
 * every chain page by page.
 * @example
 * ```ts
 * await audit.record({ type: 'rate_limit.exceeded', outcome: 'DENY', principal, operation, requestId, ip });
 * const { items, nextCursor } = await audit.query({ type: 'access.denied', limit: 20 });
 * const { valid, checked, firstBrokenId } = await audit.verify();
 * ```
 * @throws ValidationFailedException from `query()` for a bad type, time, limit or cursor.
 */
export { AuditService, type AuditPage, type AuditQuery } from './audit.service';

/**
 * The batching writer behind `AuditService`: redacts, queues (waiting while the queue is full, never dropping),
 * writes one transaction per batch, and flushes before shutdown (`app.enableShutdownHooks()` for SIGTERM).
 * @example
 * ```ts
 * const writer = new AuditWriter(dataSource, { batchSize: 500, hashIpSalt: process.env.AUDIT_IP_SALT });
 * await writer.record({ id: randomUUID(), type: 'token.revoked', outcome: 'SUCCESS', principalId: 'admin', tenantId: null,
 *   operation: 'token.revoke', reasons: [], requestId: null, ip: null, details: { jti }, createdAt: Date.now() });
 * await writer.close();
 * ```
 * @throws Error from the constructor naming the invalid `audit.*` key; from `record()` once shut down.
 */
export { AuditWriter, type AuditWriterOptions } from './audit.writer';

/**
 * Providers of the audit log wired to the module options' `audit` key, and the tokens they use.
 * @example
 * ```ts
 * @Module({ imports: [TypeOrmModule.forRoot({ ..., entities: [...AUDIT_ENTITIES], migrations: [...AUDIT_MIGRATIONS] })],
 *   providers: [{ provide: POLICY_MODULE_OPTIONS, useValue: options }, ...AUDIT_PROVIDERS] })
 * ```
 */
export { AUDIT_PROVIDERS } from './audit.providers';
/**
 * Tokens and defaults of the writer.
 * @example
 * ```ts
 * providers: [{ provide: AUDIT_CONFIG, useValue: { batchSize: 500 } }, { provide: AUDIT_WRITER_OPTIONS, useValue: { chainId: 'worker-1' } }]
 * ```
 */
export {
  AUDIT_CONFIG,
  AUDIT_WRITER_OPTIONS,
  DEFAULT_AUDIT_BATCH_SIZE,
  DEFAULT_AUDIT_FLUSH_INTERVAL_MS,
  DEFAULT_AUDIT_MAX_QUEUE,
} from './audit.constants';

/**
 * Secret redaction used on every stored field.
 * @example
 * ```ts
 * redact({ headers: { authorization: 'Bearer eyJ…' }, note: 'key apk_1_s3cret' });
 * // { headers: { authorization: '[REDACTED]' }, note: 'key [REDACTED]' }
 * ```
 */
export { REDACTED, isSecretKey, redact, redactString } from './audit.redaction';

/**
 * The hash chain, as pure functions over stored events.
 * @example
 * ```ts
 * const hash = hashEvent(GENESIS_HASH, fields);
 * verifyChain(rows); // { valid, checked, firstBrokenId }
 * ```
 */
export {
  ChainVerifier,
  GENESIS_HASH,
  hashEvent,
  verifyChain,
  type AuditChainFields,
  type AuditChainRecord,
  type ChainVerification,
} from './audit.chain';

/**
 * Canonical JSON (sorted keys) used for hashing and digests.
 * @example
 * ```ts
 * canonicalJson({ b: 1, a: [true] }); // '{"a":[true],"b":1}'
 * ```
 */
export { canonicalJson, type JsonValue } from './canonical-json';

/**
 * The audit table: entity, migration, and the arrays to add to a DataSource.
 * @example
 * ```ts
 * new DataSource({ type: 'postgres', url, entities: [...AUDIT_ENTITIES], migrations: [...AUDIT_MIGRATIONS] });
 * ```
 */
export { AuditEventEntity } from './audit-event.entity';
/** @example `migrations: [CreateAuditTables1764000000001]` */
export { CreateAuditTables1764000000001 } from './audit.migrations';
/** @example `entities: [...AUDIT_ENTITIES], migrations: [...AUDIT_MIGRATIONS]` */
export { AUDIT_ENTITIES, AUDIT_MIGRATIONS } from './audit.persistence';

/**
 * Signed anchors of the audit chain: this instance's chain head recorded every `audit.anchorIntervalMs` under an
 * HMAC of `audit.anchorKey` in `policy_audit_anchors`, and checked by `AuditService.verify`, so deleting the newest
 * events or recomputing a chain's tail is detected. Provided by `AUDIT_PROVIDERS`.
 * @example
 * PolicyModule.forRoot({ ..., audit: { anchorKey: process.env.AUDIT_ANCHOR_KEY, anchorIntervalMs: 5000 } });
 * @throws Error from the constructor naming `audit.anchorKey` (under 32 bytes) or `audit.anchorIntervalMs`.
 */
export { AuditAnchorService, DEFAULT_AUDIT_ANCHOR_INTERVAL_MS } from './audit-anchor.service';
/** The anchors table: entity and migration (both included in `AUDIT_ENTITIES` / `AUDIT_MIGRATIONS`). */
export { AuditAnchorEntity } from './audit-anchor.entity';
export { CreateAuditAnchors1764000000101 } from './audit-anchor.migrations';
