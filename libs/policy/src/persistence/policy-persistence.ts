import { ApiKeyEntity } from '../authentication/api-key.entity';
import { CreateIdentityTables1763900000000 } from '../authentication/identity.migrations';
import { RevokedTokenEntity } from '../authentication/revoked-token.entity';

/**
 * Every entity the library stores. Add them to the app's TypeORM data source.
 * @example TypeOrmModule.forRoot({ ..., entities: [...POLICY_ENTITIES, ...appEntities] })
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
export const POLICY_ENTITIES: Function[] = [RevokedTokenEntity, ApiKeyEntity];

/**
 * The library's migrations, portable across SQLite and PostgreSQL. Run them with the app's own.
 * @example TypeOrmModule.forRoot({ ..., migrations: [...POLICY_MIGRATIONS, ...appMigrations], migrationsRun: true })
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
export const POLICY_MIGRATIONS: Function[] = [CreateIdentityTables1763900000000];

