/**
 * Sandboxed tool calls: latency of `ProcessToolSandbox.run` for a trivial task, in three regimes:
 * - cold: no pool (poolSize 0), every call starts and confines a process;
 * - warm: a started process is waiting when the call comes (the pool had time to refill since the previous call);
 * - back-to-back: calls one after the other with no pause, so the pool (size 2) must refill as fast as it is used.
 * Standalone: `npm run build:lib && npx tsc -p bench/tsconfig.bench.json && node dist/bench/sandbox.bench.js`.
 * BENCH_SANDBOX_CALLS (default 200) sets the number of warm calls, BENCH_SANDBOX_GAP_MS (default 300) the pause
 * before each warm call (time for the pool to finish starting the replacement of the previous call's process).
 */
import { ProcessToolSandbox } from 'nest-agent-policy';

interface Sandbox {
  run(task: { source: string; args: unknown; timeoutMs: number; limits: object }): Promise<unknown>;
  warm(limits?: object): Promise<void>;
  close(): Promise<void>;
}
type SandboxClass = new (options?: { poolSize?: number; startTimeoutMs?: number }) => Sandbox;

function sandboxClass(): SandboxClass {
  return ProcessToolSandbox;
}

const TASK = { source: '(args) => ({ sum: args.a + args.b })', args: { a: 1, b: 2 }, timeoutMs: 5000, limits: {} };

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function row(label: string, samples: number[]): string {
  const sorted = [...samples].sort((a, b) => a - b);
  const f = (n: number) => n.toFixed(2).padStart(8);
  return `${label.padEnd(34)}${String(samples.length).padStart(6)}${f(percentile(sorted, 50))}${f(percentile(sorted, 99))}${f(sorted[sorted.length - 1])}`;
}

async function timed(sandbox: Sandbox): Promise<number> {
  const started = performance.now();
  const result = (await sandbox.run(TASK)) as { sum: number };
  const elapsed = performance.now() - started;
  if (result.sum !== 3) throw new Error(`unexpected result ${JSON.stringify(result)}`);
  return elapsed;
}

export async function sandboxBench(options: { rounds?: number; duration?: number } = {}): Promise<string> {
  const ProcessToolSandbox = sandboxClass();
  const warmCalls = Number(process.env.BENCH_SANDBOX_CALLS ?? 200);
  const gapMs = Number(process.env.BENCH_SANDBOX_GAP_MS ?? 300);
  const coldCalls = Math.max(10, Math.round(warmCalls / 10));
  const lines = [
    'sandboxed call latency (ms)',
    `${'regime'.padEnd(34)}${'calls'.padStart(6)}${'p50'.padStart(8)}${'p99'.padStart(8)}${'max'.padStart(8)}`,
  ];

  const cold = new ProcessToolSandbox({ poolSize: 0, startTimeoutMs: 30_000 });
  try {
    await timed(cold);
    const samples: number[] = [];
    for (let i = 0; i < coldCalls; i += 1) samples.push(await timed(cold));
    lines.push(row('cold (process start per call)', samples));
  } finally {
    await cold.close();
  }

  const warm = new ProcessToolSandbox({ poolSize: 2, startTimeoutMs: 30_000 });
  try {
    await warm.warm({});
    await timed(warm);
    const samples: number[] = [];
    for (let i = 0; i < warmCalls; i += 1) {
      await new Promise((done) => setTimeout(done, gapMs));
      await warm.warm({});
      samples.push(await timed(warm));
    }
    lines.push(row('warm (a started process waiting)', samples));
    const burst: number[] = [];
    await warm.warm({});
    for (let i = 0; i < coldCalls; i += 1) burst.push(await timed(warm));
    lines.push(row('back-to-back (pool of 2 refilling)', burst));
  } finally {
    await warm.close();
  }
  void options;
  return lines.join('\n');
}

if (require.main === module) {
  sandboxBench()
    .then((text) => process.stdout.write(`${text}\n`))
    .catch((err: Error) => {
      process.stderr.write(`${err.stack}\n`);
      process.exit(1);
    });
}
