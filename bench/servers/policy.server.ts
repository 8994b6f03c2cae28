/**
 * The bare route of bare.server.ts with nest-agent-policy in front of it: authentication (JWT or API key),
 * authorization (operation + scope), rate limits (memory, or Redis with REDIS_URL), on a SQLite file for the
 * identity tables. Isolates what the library costs on the request path. Prints `READY <port> <api key>`.
 */
// First: keeps process.nextTick on V8's fast path (see keepNextTickShape).
import 'nest-agent-policy/keep-next-tick-shape';
import 'reflect-metadata';
import { Controller, Get, Module, Param } from '@nestjs/common';
import { SkipThrottle } from '@nestjs/throttler';
import { TypeOrmModule } from '@nestjs/typeorm';
import { createBenchApp, listenAndReport } from './bench-app';
import {
  ApiKeyService,
  POLICY_ENTITIES,
  POLICY_MIGRATIONS,
  PolicyModule,
  RequireOperation,
  RequireScopes,
} from 'nest-agent-policy';

const agent = (id: string) => ({
  id,
  tenantId: null,
  ownerId: 'bench',
  name: 'bench agent',
  model: 'echo-1',
  instructions: '',
  createdAt: 0,
  updatedAt: 0,
});

@Controller()
class PolicyController {
  @Get('agents/:id')
  @RequireOperation('agent.read')
  @RequireScopes('agents:read')
  get(@Param('id') id: string) {
    return agent(id);
  }

  /** The same route with the rate limiter off (`@SkipThrottle()`): what the limiter itself costs is the difference. */
  @Get('unlimited/agents/:id')
  @RequireOperation('agent.read')
  @RequireScopes('agents:read')
  @SkipThrottle()
  getUnlimited(@Param('id') id: string) {
    return agent(id);
  }
}

@Module({
  imports: [
    TypeOrmModule.forRoot({
      type: 'better-sqlite3',
      database: process.env.BENCH_SQLITE ?? ':memory:',
      entities: [...POLICY_ENTITIES],
      migrations: [...POLICY_MIGRATIONS],
      migrationsRun: true,
    }),
    PolicyModule.forRoot({
      mode: 'production',
      jwt: { secret: process.env.JWT_SECRET },
      redisUrl: process.env.REDIS_URL || undefined,
      roles: { admin: { operations: ['*'] } },
      scopes: { admin: { implies: ['*'] } },
      audit: { grants: process.env.AUDIT_GRANTS === '1' },
      rateLimits: { default: { limit: 1_000_000_000, ttl: 60 }, anonymous: { limit: 1_000_000_000, ttl: 60 } },
    }),
  ],
  controllers: [PolicyController],
})
class PolicyBenchModule {}

async function main() {
  const app = await createBenchApp(PolicyBenchModule);
  await listenAndReport(app, async () => {
    const { key } = await app.get(ApiKeyService).create({
      name: 'bench',
      roles: ['admin'],
      scopes: ['agents:read'],
      tenantId: null,
      tier: null,
      expiresAt: null,
      createdBy: 'bench',
    });
    return key;
  });
}

void main();
