/** A small app using the library's rate limits exactly as a user would. */
import { Controller, Get, Injectable, Module, type DynamicModule } from '@nestjs/common';
import { SkipThrottle, Throttle } from '@nestjs/throttler';
import { TypeOrmModule } from '@nestjs/typeorm';
import {
  POLICY_ENTITIES,
  POLICY_MIGRATIONS,
  PolicyModule,
  ProductionAuthorizationPolicy,
  Public,
  RequireOperation,
  type OperationLimiter,
  type PolicyModuleOptions,
} from 'nest-agent-policy';

export const SECRET = 'rate-limit-test-secret-0123456789abcdef';

@Controller()
export class LimitedController {
  @Get('agents')
  @RequireOperation('agent.list')
  list() {
    return { items: [] };
  }

  @Get('tools')
  @RequireOperation('tool.invoke')
  invoke() {
    return { ok: true };
  }

  @Get('throttled')
  @RequireOperation('agent.read')
  @Throttle({ default: { limit: 2, ttl: 60_000 } })
  throttled() {
    return { ok: true };
  }

  @Get('unlimited')
  @RequireOperation('agent.read')
  @SkipThrottle()
  unlimited() {
    return { ok: true };
  }

  @Get('open')
  @Public()
  open() {
    return { ok: true };
  }
}

/** Parlant parity: a specific limiter for one operation replaces the default one. */
@Injectable()
export class ToolQuotaPolicy extends ProductionAuthorizationPolicy {
  static calls = 0;
  protected specificLimiters: Partial<Record<string, OperationLimiter>> = {
    'tool.invoke': async (ctx) => {
      ToolQuotaPolicy.calls++;
      if (ctx.principal.tier === 'internal') return null;
      return { allowed: false, limit: 0, remaining: 0, resetSeconds: 30, retryAfterSeconds: 30, bucket: 'tool-quota' };
    },
  };
}

export function rateLimitApp(options: Partial<PolicyModuleOptions>): DynamicModule {
  @Module({})
  class RateLimitTestModule {}
  return {
    module: RateLimitTestModule,
    imports: [
      TypeOrmModule.forRoot({
        type: 'better-sqlite3',
        database: ':memory:',
        entities: [...POLICY_ENTITIES],
        migrations: [...POLICY_MIGRATIONS],
        migrationsRun: true,
      }),
      PolicyModule.forRoot({
        mode: 'production',
        jwt: { secret: SECRET },
        roles: { user: { operations: ['agent.*', 'tool.*'] } },
        ...options,
      }),
    ],
    controllers: [LimitedController],
  };
}
