/**
 * A streamed reply of `?tokens=` tokens as Server-Sent Events, twice: behind nest-agent-policy without `@Budget`
 * (the handler writes the same events through a plain StreamableFile) and with `@Budget`, where each token is
 * recorded on the `BudgetMeter` and the stream is settled at its end. Counters in the SQLite file BENCH_SQLITE.
 * Prints `READY <port>`.
 */
import 'reflect-metadata';
import { Controller, Module, Param, Post, Query, StreamableFile } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Readable } from 'node:stream';
import {
  Budget,
  BudgetMeter,
  POLICY_ENTITIES,
  POLICY_MIGRATIONS,
  PolicyModule,
  RequireOperation,
  RequireScopes,
} from 'nest-agent-policy';

const count = (value: unknown): number => Math.min(100_000, Math.max(1, Number(value) || 1));
const UNREACHABLE = 1_000_000_000;

async function* tokens(n: number, meter?: BudgetMeter): AsyncGenerator<{ type: string; data: unknown }> {
  meter?.record({ inputTokens: 10, outputTokens: 0 });
  for (let i = 0; i < n; i++) {
    meter?.record({ inputTokens: 0, outputTokens: 1 });
    yield { type: 'token', data: { text: ' word' } };
  }
  yield { type: 'done', data: { usage: { inputTokens: 10, outputTokens: n } } };
}

async function* sse(n: number): AsyncGenerator<string> {
  for await (const event of tokens(n)) yield `event: ${event.type}\ndata: ${JSON.stringify(event.data)}\n\n`;
}

@Controller()
class StreamController {
  @Post('unbudgeted/:id/stream')
  @RequireOperation('event.create')
  @RequireScopes('events:write')
  unbudgeted(@Param('id') _id: string, @Query('tokens') n: string) {
    return new StreamableFile(Readable.from(sse(count(n)), { objectMode: false, highWaterMark: 1 }), {
      type: 'text/event-stream',
    });
  }

  @Post('budgeted/:id/stream')
  @RequireOperation('event.create')
  @RequireScopes('events:write')
  @Budget<{ query?: { tokens?: string } }>({
    model: 'echo-1',
    estimate: (req) => ({ inputTokens: 10, outputTokens: count(req.query?.tokens) }),
  })
  budgeted(@Param('id') _id: string, @Query('tokens') n: string, @BudgetMeter() meter: BudgetMeter) {
    return tokens(count(n), meter);
  }
}

@Module({
  imports: [
    TypeOrmModule.forRoot({
      type: 'better-sqlite3',
      database: process.env.BENCH_SQLITE ?? ':memory:',
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
      roles: { admin: { operations: ['*'] } },
      scopes: { admin: { implies: ['*'] } },
      rateLimits: { default: { limit: UNREACHABLE, ttl: 60 }, anonymous: { limit: UNREACHABLE, ttl: 60 } },
      budgets: { principal: { day: { cost: UNREACHABLE, tokens: UNREACHABLE * 1000, requests: UNREACHABLE } } },
      pricing: { 'echo-1': { input: 0.5, output: 1.5 } },
    }),
  ],
  controllers: [StreamController],
})
class StreamBenchModule {}

async function main() {
  const app = await NestFactory.create(StreamBenchModule, { logger: ['error'] });
  await app.listen(0, '127.0.0.1');
  const port = (app.getHttpServer().address() as { port: number }).port;
  process.stdout.write(`READY ${port}\n`);
}

void main();
