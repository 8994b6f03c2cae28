/**
 * `npm run bench`: every request-path benchmark, one after the other, each comparing against a bare NestJS route
 * in the same run. BENCH_ROUNDS (default 3) and BENCH_DURATION (seconds, default 5) tune the length;
 * BENCH_ONLY=decision,auth,rate-limit,… picks some.
 */
import { cpus } from 'node:os';
import { auditBench } from './audit.bench';
import { authBench } from './auth.bench';
import { budgetBench } from './budget.bench';
import { decisionBench } from './decision.bench';
import { sandboxBench } from './sandbox.bench';
import { monitoringBench } from './monitoring.bench';
import { streamBench } from './stream.bench';
import { throttlerStorageBench } from './throttler-storage.bench';
import { toolsBench } from './tools.bench';

type Bench = [name: string, run: (o: { rounds: number; duration: number }) => Promise<string>];

const benches: Bench[] = [
  ['decision', decisionBench],
  ['auth', authBench],
  ['rate-limit', throttlerStorageBench],
  ['budget', budgetBench],
  ['stream', streamBench],
  ['audit', auditBench],
  ['sandbox', sandboxBench],
  ['monitoring', monitoringBench],
  ['tools', toolsBench],
];

async function main(): Promise<void> {
  const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
  const duration = Number(process.env.BENCH_DURATION ?? 5);
  const only = process.env.BENCH_ONLY?.split(',');
  process.stdout.write(`node ${process.version}, ${cpus().length} cpus, ${rounds} rounds × ${duration}s\n\n`);
  for (const [name, run] of benches) {
    if (only && !only.includes(name)) continue;
    process.stdout.write(`${await run({ rounds, duration })}\n\n`);
  }
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
