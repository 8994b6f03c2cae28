/**
 * One route shaped like agent-api's `POST /sessions/:id/events`, twice: behind nest-agent-policy without `@Budget`
 * and with `@Budget({ model: 'echo-1', estimate: input tokens + 256 output })`. Both count the message's tokens with
 * the real tokenizer and answer `{ usage }`. Budget counters live in Redis with REDIS_URL, else in the SQLite file
 * BENCH_SQLITE (the usage ledger always does). Principal and tenant budgets, with limits too high to ever answer 402;
 * no global budget, whose counter in a shared Redis would be everyone's. Prints `READY <port>`.
 */
// First: keeps process.nextTick on V8's fast path (see keepNextTickShape).
import 'nest-agent-policy/keep-next-tick-shape';
import 'reflect-metadata';
import { Body, Controller, Module, Param, Post } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { encode } from 'gpt-tokenizer';
import { createBenchApp, listenAndReport } from './bench-app';
import {
  Budget,
  POLICY_ENTITIES,
  POLICY_MIGRATIONS,
  PolicyModule,
  RequireOperation,
  RequireScopes,
} from 'nest-agent-policy';

const MAX_OUTPUT_TOKENS = 256;
const UNREACHABLE = 1_000_000_000;

interface EventBody {
  message?: unknown;
}

/** The work both routes do: count the message's tokens, echo at most 256 of them. */
function exchange(sessionId: string, body: EventBody) {
  const inputTokens = typeof body.message === 'string' ? encode(body.message).length : 0;
  return { sessionId, usage: { model: 'echo-1', inputTokens, outputTokens: Math.min(inputTokens, MAX_OUTPUT_TOKENS) } };
}

@Controller()
class EventsController {
  @Post('unbudgeted/:id/events')
  @RequireOperation('event.create')
  @RequireScopes('events:write')
  unbudgeted(@Param('id') id: string, @Body() body: EventBody) {
    return exchange(id, body);
  }

  @Post('budgeted/:id/events')
  @RequireOperation('event.create')
  @RequireScopes('events:write')
  @Budget<{ body?: EventBody }>({
    model: 'echo-1',
    estimate: (req) => ({
      inputTokens: typeof req.body?.message === 'string' ? encode(req.body.message).length : 0,
      outputTokens: MAX_OUTPUT_TOKENS,
    }),
  })
  budgeted(@Param('id') id: string, @Body() body: EventBody) {
    return exchange(id, body);
  }
}

@Module({
  imports: [
    TypeOrmModule.forRoot({
      type: 'better-sqlite3',
      database: process.env.BENCH_SQLITE ?? ':memory:',
      // The settings agent-api runs SQLite with: WAL, and no disk sync on every commit.
      enableWAL: Boolean(process.env.BENCH_SQLITE),
      prepareDatabase: (db: { pragma: (sql: string) => unknown }) => {
        db.pragma('synchronous = NORMAL');
      },
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
      rateLimits: { default: { limit: UNREACHABLE, ttl: 60 }, anonymous: { limit: UNREACHABLE, ttl: 60 } },
      budgets: {
        principal: { day: { cost: UNREACHABLE, tokens: UNREACHABLE * 1000, requests: UNREACHABLE } },
        tenant: { month: { cost: UNREACHABLE } },
      },
      pricing: { 'echo-1': { input: 0.5, output: 1.5 } },
    }),
  ],
  controllers: [EventsController],
})
class BudgetBenchModule {}

async function main() {
  await listenAndReport(await createBenchApp(BudgetBenchModule));
}

void main();
