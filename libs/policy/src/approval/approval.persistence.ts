import { ApprovalEntity } from './approval.entity';
import { CreateApprovalTables1764000000002 } from './approval.migrations';

/** Entities of approvals, for the app's DataSource `entities`. */
export const APPROVAL_ENTITIES = [ApprovalEntity];
/** Migrations of approvals, for the app's DataSource `migrations`. */
export const APPROVAL_MIGRATIONS = [CreateApprovalTables1764000000002];
