/** Injection token of the {@link AuditConfig} the audit writer uses (usually the `audit` key of the module options). */
export const AUDIT_CONFIG = Symbol('POLICY:AUDIT_CONFIG');
/** Injection token of optional {@link AuditWriterOptions} (chain id, clock). */
export const AUDIT_WRITER_OPTIONS = Symbol('POLICY:AUDIT_WRITER_OPTIONS');

export const DEFAULT_AUDIT_BATCH_SIZE = 200;
export const DEFAULT_AUDIT_FLUSH_INTERVAL_MS = 200;
export const DEFAULT_AUDIT_MAX_QUEUE = 10_000;
export const DEFAULT_AUDIT_MAX_WAIT_MS = 5_000;
