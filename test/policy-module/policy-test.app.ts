/** A small app that uses the library exactly as a user would, for the PolicyModule suites. */
import {
  Controller,
  Get,
  Injectable,
  Module,
  type DynamicModule,
  type INestApplication,
  type Provider,
  type Type,
} from '@nestjs/common';
import { Test, type TestingModuleBuilder } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import {
  AuthorizationPolicy,
  BudgetStore,
  CurrentPrincipal,
  DatabaseBudgetStore,
  PolicyModule,
  POLICY_ENTITIES,
  POLICY_MIGRATIONS,
  Public,
  RequireOperation,
  RequireScopes,
  type PermissionDecision,
  type PolicyModuleOptions,
  type Principal,
  type RateLimitDecision,
  type ReserveRequest,
  type ReserveResult,
} from 'nest-agent-policy';

export const SECRET = 'policy-module-test-secret-0123456789abcdef';

export const BASE_OPTIONS: PolicyModuleOptions = {
  mode: 'production',
  jwt: { secret: SECRET },
  operations: ['report.read'],
  roles: {
    reader: { operations: ['report.read', 'agent.read'] },
    admin: { operations: ['*'] },
  },
  scopes: { 'reports:write': { implies: ['reports:read'] } },
};

@RequireOperation('report.read')
@Controller('reports')
export class ReportsController {
  /** Class-level operation, method-level scopes. */
  @Get()
  @RequireScopes('reports:read')
  list(@CurrentPrincipal() principal: Principal) {
    return { principal: principal.id };
  }

  /** Method-level operation overrides the class's. */
  @Get('agents')
  @RequireOperation('agent.read')
  agents() {
    return { ok: true };
  }

  @Get('open')
  @Public()
  open(@CurrentPrincipal() principal: Principal) {
    return { type: principal.type };
  }
}

@Controller('forgotten')
export class ForgottenController {
  /** No @RequireOperation and no @Public: always denied. */
  @Get()
  secret() {
    return { leaked: true };
  }
}

/** A custom policy: allows only `report.read`, never limits. */
@Injectable()
export class ReportsOnlyPolicy extends AuthorizationPolicy {
  async checkPermission(_ctx: unknown, operation: string): Promise<PermissionDecision> {
    return operation === 'report.read'
      ? { allowed: true, reasons: ['reports only'], recordScope: {} }
      : { allowed: false, code: 'forbidden', reasons: ['reports only'], recordScope: {} };
  }
  async checkRateLimit(): Promise<RateLimitDecision | null> {
    return null;
  }
}

/** A policy that throws: every decision must deny. */
@Injectable()
export class BrokenPolicy extends AuthorizationPolicy {
  async checkPermission(): Promise<PermissionDecision> {
    throw new Error('database exploded');
  }
  async checkRateLimit(): Promise<RateLimitDecision | null> {
    return null;
  }
}

export const database = () =>
  TypeOrmModule.forRoot({
    type: 'better-sqlite3',
    database: ':memory:',
    entities: [...POLICY_ENTITIES],
    migrations: [...POLICY_MIGRATIONS],
    migrationsRun: true,
  });

@Module({})
export class PolicyTestAppModule {
  static with(
    policyModule: DynamicModule,
    providers: Provider[] = [],
    controllers: Type<unknown>[] = [ReportsController, ForgottenController],
  ): DynamicModule {
    return { module: PolicyTestAppModule, imports: [database(), policyModule], controllers, providers };
  }
}

/**
 * Boots {@link PolicyTestAppModule} with `BASE_OPTIONS` plus `options`, the given providers and controllers, after
 * `configure` (overrides) has seen the testing module; listens on 127.0.0.1.
 */
export async function bootPolicyApp(
  options: Partial<PolicyModuleOptions>,
  controllers: Type<unknown>[],
  configure?: (builder: TestingModuleBuilder) => void,
  providers: Provider[] = [],
): Promise<INestApplication> {
  const builder = Test.createTestingModule({
    imports: [PolicyTestAppModule.with(PolicyModule.forRoot({ ...BASE_OPTIONS, ...options }), providers, controllers)],
  });
  configure?.(builder);
  const app = (await builder.compile()).createNestApplication({ logger: false });
  await app.listen(0, '127.0.0.1');
  return app;
}

/** The database budget store, counting its reservations. */
export class RecordingBudgetStore extends DatabaseBudgetStore {
  reserves = 0;
  override reserve(request: ReserveRequest): Promise<ReserveResult> {
    this.reserves++;
    return super.reserve(request);
  }
}

/** Replaces the budget store with a {@link RecordingBudgetStore}, handed to `made` once built. */
export const recordBudgetStore =
  (made: (store: RecordingBudgetStore) => void) =>
  (builder: TestingModuleBuilder): void => {
    builder.overrideProvider(BudgetStore).useFactory({
      factory: (dataSource: DataSource) => {
        const store = new RecordingBudgetStore(dataSource);
        made(store);
        return store;
      },
      inject: [DataSource],
    });
  };
