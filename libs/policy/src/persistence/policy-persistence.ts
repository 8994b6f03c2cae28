import { APPROVAL_ENTITIES, APPROVAL_MIGRATIONS } from '../approval/approval.persistence';
import { AUDIT_ENTITIES, AUDIT_MIGRATIONS } from '../audit/audit.persistence';
import { ApiKeyEntity } from '../authentication/api-key.entity';
import { BUDGET_ENTITIES, BUDGET_MIGRATIONS } from '../budget/budget.persistence';
import { CreateIdentityTables1763900000000 } from '../authentication/identity.migrations';
import { RevokedTokenEntity } from '../authentication/revoked-token.entity';

/**
 * Every entity the library stores. Add them to the app's TypeORM data source.
 * @example TypeOrmModule.forRoot({ ..., entities: [...POLICY_ENTITIES, ...appEntities] })
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- TypeORM's own `entities` option is typed Function[]
export const POLICY_ENTITIES: Function[] = [
  RevokedTokenEntity,
  ApiKeyEntity,
  ...AUDIT_ENTITIES,
  ...APPROVAL_ENTITIES,
  ...BUDGET_ENTITIES,
];

/**
 * The library's migrations, portable across SQLite and PostgreSQL. Run them with the app's own.
 * @example TypeOrmModule.forRoot({ ..., migrations: [...POLICY_MIGRATIONS, ...appMigrations], migrationsRun: true })
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- TypeORM's own `migrations` option is typed Function[]
export const POLICY_MIGRATIONS: Function[] = [
  CreateIdentityTables1763900000000,
  ...AUDIT_MIGRATIONS,
  ...APPROVAL_MIGRATIONS,
  ...BUDGET_MIGRATIONS,
];
