import { AuditEventEntity } from './audit-event.entity';
import { CreateAuditTables1764000000001 } from './audit.migrations';

/** Entities of the audit log, for the app's DataSource `entities`. */
export const AUDIT_ENTITIES = [AuditEventEntity];
/** Migrations of the audit log, for the app's DataSource `migrations`. */
export const AUDIT_MIGRATIONS = [CreateAuditTables1764000000001];
