/**
 * Tool calls in process: what `ToolExecutor.invoke` adds to calling the tool method directly — roles' tools,
 * scopes through the policy engine, rate limits (memory storage), argument validation (ajv) and the audit event —
 * per call, sequentially, in one Nest application context on an in-memory SQLite. Target: ≤ 20 µs per call.
 * A variant with an `x-sanitize: text` field shows what the sanitizer costs on top.
 */
import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import {
  AgentTool,
  AuditService,
  POLICY_ENTITIES,
  POLICY_MIGRATIONS,
  PolicyModule,
  ToolExecutor,
  type Principal,
} from 'nest-agent-policy';

@Injectable()
class BenchTools {
  @AgentTool({
    name: 'lookup',
    description: 'bench',
    input: {
      type: 'object',
      properties: {
        query: { type: 'string', maxLength: 200 },
        max_results: { type: 'integer', minimum: 1, maximum: 20, default: 5 },
      },
      required: ['query'],
    },
  })
  lookup(args: { query: string; max_results: number }) {
    return args.max_results;
  }

  @AgentTool({
    name: 'lookup_clean',
    description: 'bench',
    input: {
      type: 'object',
      properties: { query: { type: 'string', maxLength: 200, 'x-sanitize': 'text' } },
      required: ['query'],
    },
  })
  lookupClean(args: { query: string }) {
    return args.query.length;
  }
}

const benchModule = (audited: boolean) => {
  @Module({
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
        jwt: { secret: 'bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz' },
        roles: { agent: { operations: ['tool.invoke'], tools: ['lookup*'] } },
        scopes: { 'tools:write': { implies: ['tools:read'] } },
        rateLimits: { default: { limit: 1_000_000_000, ttl: 60 } },
        // Without auditing, what is left is the policy and the validation (and the run wrapper).
        providers: audited ? [] : [{ provide: AuditService, useValue: { record: async () => '' } }],
      }),
    ],
    providers: [BenchTools],
  })
  class ToolsBenchModule {}
  return ToolsBenchModule;
};

const principal: Principal = {
  id: 'bench',
  type: 'user',
  tenantId: 't1',
  roles: ['agent'],
  scopes: ['tools:write'],
  tier: null,
  tokenId: null,
};

// CPU time of this process per call: on a shared machine, wall time mostly measures the other processes.
async function perCallNs(iterations: number, call: () => unknown): Promise<number> {
  const started = process.cpuUsage();
  for (let i = 0; i < iterations; i++) await call();
  const used = process.cpuUsage(started);
  return ((used.user + used.system) * 1000) / iterations;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

export async function toolsBench(options: { rounds?: number; duration?: number } = {}): Promise<string> {
  const rounds = options.rounds ?? 3;
  const iterations = 20_000;
  const policyOnly = await measure(benchModule(false), rounds, iterations);
  const audited = await measure(benchModule(true), rounds, iterations);
  const us = (ns: number) => (ns / 1000).toFixed(2);
  return [
    `Tool calls in process (${rounds} rounds × ${iterations} sequential calls, median CPU time per call)`,
    '| variant | µs per call | overhead vs direct call |',
    '|---|---|---|',
    `| direct method call (awaited) | ${us(policyOnly.base)} | — |`,
    `| ToolExecutor.invoke: roles, scopes (engine), rate limit, validation, timeout and cap (audit off) | ${us(policyOnly.invoke)} | ${us(policyOnly.invoke - policyOnly.base)} µs (target ≤ 20) |`,
    `| same, with an x-sanitize: text field holding markup (audit off) | ${us(policyOnly.sanitized)} | ${us(policyOnly.sanitized - policyOnly.base)} µs |`,
    `| ToolExecutor.invoke with its tool.invoked audit event (SQLite in memory) | ${us(audited.invoke)} | ${us(audited.invoke - audited.base)} µs |`,
  ].join('\n');
}

async function measure(
  module: unknown,
  rounds: number,
  iterations: number,
): Promise<{ base: number; invoke: number; sanitized: number }> {
  const app = await NestFactory.createApplicationContext(module as never, { logger: ['error'] });
  try {
    const tools = app.get(ToolExecutor);
    const direct = app.get(BenchTools);
    const args = { query: 'how do I reset my password' };
    const text = { query: 'how do I <b>reset</b> my password' };
    const samples = { direct: [] as number[], invoke: [] as number[], sanitized: [] as number[] };
    // Warm-up: JIT, schema caches, storage keys.
    await perCallNs(2000, () => tools.invoke(principal, 'lookup', args));
    await perCallNs(2000, () => tools.invoke(principal, 'lookup_clean', text));
    for (let round = 0; round < rounds; round++) {
      samples.direct.push(await perCallNs(iterations, () => direct.lookup({ ...args, max_results: 5 })));
      samples.invoke.push(await perCallNs(iterations, () => tools.invoke(principal, 'lookup', args)));
      samples.sanitized.push(await perCallNs(iterations, () => tools.invoke(principal, 'lookup_clean', text)));
    }
    return { base: median(samples.direct), invoke: median(samples.invoke), sanitized: median(samples.sanitized) };
  } finally {
    await app.close();
  }
}

if (require.main === module) {
  toolsBench({ rounds: Number(process.env.BENCH_ROUNDS ?? 3) })
    .then((out) => process.stdout.write(`${out}\n`))
    .catch((err) => {
      process.stderr.write(`${(err as Error).stack}\n`);
      process.exit(1);
    });
}
