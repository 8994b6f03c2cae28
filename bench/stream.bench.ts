/**
 * Streaming overhead per token: the same streamed reply (Server-Sent Events) with and without `@Budget`, read to
 * its end by one client at a time, interleaved rounds, medians. With `@Budget` each token is recorded on the
 * BudgetMeter (checked against the reservation), and each stream is reserved and settled once. Streams of two
 * lengths separate the two: the cost per token is the slope between them, the cost per stream what is left.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jwt from 'jsonwebtoken';
import { median, startServer, type ServerHandle } from './lib/load';

const SECRET = 'bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz';
const SHORT = 100;
const LONG = Number(process.env.STREAM_TOKENS ?? 2000);

/** Reads whole streams of `tokens` tokens for `seconds`; answers microseconds per stream. */
async function perStream(
  url: string,
  tokens: number,
  headers: Record<string, string>,
  seconds: number,
): Promise<number> {
  const deadline = Date.now() + seconds * 1000;
  let streams = 0;
  const start = process.hrtime.bigint();
  do {
    const res = await fetch(`${url}?tokens=${tokens}`, { method: 'POST', headers });
    const text = await res.text();
    if (!text.includes('event: done'))
      throw new Error(`${url} answered ${res.status} without done: ${text.slice(0, 200)}`);
    streams += 1;
  } while (Date.now() < deadline);
  return Number(process.hrtime.bigint() - start) / 1000 / streams;
}

interface Cost {
  perToken: number;
  perStream: number;
}

async function cost(url: string, headers: Record<string, string>, seconds: number): Promise<Cost> {
  const short = await perStream(url, SHORT, headers, seconds / 2);
  const long = await perStream(url, LONG, headers, seconds / 2);
  const perToken = (long - short) / (LONG - SHORT);
  return { perToken, perStream: short - SHORT * perToken };
}

export async function streamBench(options: { rounds?: number; duration?: number } = {}): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-stream-'));
  const token = jwt.sign({ sub: `bench-${randomUUID()}`, roles: ['admin'], scope: 'admin' }, SECRET, {
    algorithm: 'HS256',
    expiresIn: '2h',
    jwtid: randomUUID(),
  });
  const headers = { Authorization: `Bearer ${token}`, accept: 'text/event-stream' };
  let server: ServerHandle | undefined;
  try {
    server = await startServer(join(__dirname, 'servers/stream.server.js'), {
      JWT_SECRET: SECRET,
      NO_COLOR: '1',
      BENCH_SQLITE: join(dir, 'stream.sqlite'),
    });
    const session = randomUUID();
    const plainUrl = `${server.url}/unbudgeted/${session}/stream`;
    const budgetedUrl = `${server.url}/budgeted/${session}/stream`;
    const plain: Cost[] = [];
    const budgeted: Cost[] = [];
    await cost(plainUrl, headers, 1);
    await cost(budgetedUrl, headers, 1);
    for (let round = 0; round < (options.rounds ?? 3); round++) {
      plain.push(await cost(plainUrl, headers, options.duration ?? 5));
      budgeted.push(await cost(budgetedUrl, headers, options.duration ?? 5));
    }
    const tokenA = median(plain.map((c) => c.perToken));
    const tokenB = median(budgeted.map((c) => c.perToken));
    const streamA = median(plain.map((c) => c.perStream)) / 1000;
    const streamB = median(budgeted.map((c) => c.perStream)) / 1000;
    const pct = (a: number, b: number): string => `${(((b - a) / a) * 100).toFixed(1)}%`;
    return [
      `Streaming overhead — SSE replies of ${SHORT} and ${LONG} tokens, one client, medians of ${plain.length} interleaved rounds; per token: the slope between the two lengths`,
      '',
      '| variant | µs per token | overhead per token | ms per stream (fixed) |',
      '|---|---:|---:|---:|',
      `| without @Budget | ${tokenA.toFixed(2)} | — | ${streamA.toFixed(2)} |`,
      `| @Budget + BudgetMeter (SQLite store) | ${tokenB.toFixed(2)} | ${pct(tokenA, tokenB)} | ${streamB.toFixed(2)} |`,
    ].join('\n');
  } finally {
    await server?.stop();
  }
}

if (require.main === module) {
  streamBench({ rounds: Number(process.env.BENCH_ROUNDS ?? 3), duration: Number(process.env.BENCH_DURATION ?? 5) })
    .then((out) => process.stdout.write(`${out}\n`))
    .catch((err) => {
      process.stderr.write(`${(err as Error).stack}\n`);
      process.exit(1);
    });
}
