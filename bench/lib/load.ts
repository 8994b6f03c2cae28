/**
 * Shared bench helpers: start a server in its own process, drive it with autocannon from this process, repeat
 * interleaved and take medians. Servers run in child processes so the load generator never shares their event loop.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import autocannon from 'autocannon';

export interface LoadResult {
  /** Requests per second (average). */
  requests: number;
  /** Requests completed. */
  total: number;
  p99: number;
  errors: number;
  non2xx: number;
}

export interface ServerHandle {
  url: string;
  /** The line that announced readiness (`READY <port> …`). */
  line: string;
  child: ChildProcess;
  stop: () => Promise<void>;
}

/** Starts `node <script>` with PORT=0 semantics: the script must print `READY <port>` once listening. */
export function startServer(script: string, env: Record<string, string> = {}, args: string[] = []): Promise<ServerHandle> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...args, script], {
      env: { ...process.env, NODE_ENV: 'production', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /READY (\d+)/.exec(output) ?? /listening on http:\/\/[^:]+:(\d+)/.exec(output);
      if (match) {
        child.stdout?.off('data', onData);
        const line = output.slice(output.lastIndexOf('\n', match.index) + 1).split('\n')[0];
        resolve({
          url: `http://127.0.0.1:${match[1]}`,
          line,
          child,
          stop: () =>
            new Promise((done) => {
              if (child.exitCode !== null) return done();
              child.once('exit', () => done());
              child.kill('SIGTERM');
              setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
            }),
        });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}:\n${output}`)));
  });
}

export interface LoadOptions {
  url: string;
  headers?: Record<string, string>;
  method?: 'GET' | 'POST';
  body?: string;
  connections?: number;
  duration?: number;
  /** Per-request variation (e.g. a different tracker per request). */
  setupRequest?: (req: Record<string, unknown>) => Record<string, unknown>;
}

export function load(options: LoadOptions): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url: options.url,
        method: options.method ?? 'GET',
        headers: options.headers,
        body: options.body,
        connections: options.connections ?? 10,
        duration: options.duration ?? 5,
        requests: options.setupRequest ? [{ setupRequest: options.setupRequest as never }] : undefined,
      },
      (err, result) => {
        if (err) return reject(err as Error);
        resolve({ requests: result.requests.average, total: result.requests.total, p99: result.latency.p99, errors: result.errors, non2xx: result.non2xx });
      },
    );
  });
}

export const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

export interface Variant {
  name: string;
  options: () => LoadOptions;
}

export interface VariantSummary {
  name: string;
  rps: number;
  p99: number;
  errors: number;
  non2xx: number;
}

/** Runs every variant `rounds` times, interleaved (a b c a b c …), after one warm-up each; answers medians. */
export async function compare(variants: Variant[], rounds = 3, duration = 5): Promise<VariantSummary[]> {
  for (const v of variants) await load({ ...v.options(), duration: 2 });
  const results = new Map<string, LoadResult[]>(variants.map((v) => [v.name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const v of variants) {
      results.get(v.name)!.push(await load({ ...v.options(), duration }));
    }
  }
  return variants.map((v) => {
    const runs = results.get(v.name)!;
    return {
      name: v.name,
      rps: median(runs.map((r) => r.requests)),
      p99: median(runs.map((r) => r.p99)),
      errors: runs.reduce((a, r) => a + r.errors, 0),
      non2xx: runs.reduce((a, r) => a + r.non2xx, 0),
    };
  });
}

/** A markdown table with each variant's ratio to the first (the baseline). */
export function table(title: string, rows: VariantSummary[]): string {
  const base = rows[0].rps;
  const lines = [
    `### ${title}`,
    '',
    '| variant | req/s (median) | p99 ms | vs bare | non-2xx |',
    '|---|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.name} | ${Math.round(r.rps)} | ${r.p99} | ${(r.rps / base * 100).toFixed(1)}% | ${r.non2xx} |`),
  ];
  return lines.join('\n');
}
