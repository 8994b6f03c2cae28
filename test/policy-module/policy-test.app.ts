/** A small app that uses the library exactly as a user would, for the PolicyModule suites. */
import { Controller, Get, Injectable, Module, type DynamicModule, type Provider, type Type } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import {
  AuthorizationPolicy,
  CurrentPrincipal,
  POLICY_ENTITIES,
  POLICY_MIGRATIONS,
  Public,
  RequireOperation,
  RequireScopes,
  type PermissionDecision,
  type PolicyModuleOptions,
  type Principal,
  type RateLimitDecision,
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
