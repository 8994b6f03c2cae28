import { AuditEventEntity } from './audit-event.entity';
import { CreateAuditTables1764000000001 } from './audit.migrations';
import { AuditAnchorEntity } from './audit-anchor.entity';
import { CreateAuditAnchors1764000000101 } from './audit-anchor.migrations';

/** Entities of the audit log, for the app's DataSource `entities`. */
export const AUDIT_ENTITIES = [AuditEventEntity, AuditAnchorEntity];
/** Migrations of the audit log, for the app's DataSource `migrations`. */
export const AUDIT_MIGRATIONS = [CreateAuditTables1764000000001, CreateAuditAnchors1764000000101];
