/**
 * Shared bench helpers: start a server in its own process, drive it with wrk (when installed; else autocannon from
 * this process), repeat interleaved and take medians. Servers run in child processes so the load generator never
 * shares their event loop.
 *
 * Environment: BENCH_ADAPTERS (default `express,fastify`) and BENCH_CONNECTIONS (default `10,50`) say which HTTP
 * adapters and connection counts every HTTP bench measures; BENCH_LOAD=autocannon forces autocannon.
 *
 * CPU pinning (BENCH_PIN, default on where `taskset` exists and the machine has 2 or more CPUs; BENCH_PIN=0 turns it
 * off): every server runs on CPU 0 and wrk on the others, so a round no longer depends on whether the scheduler put
 * the generator on the server's core (on 2 shared cores that alone moved req/s by ±30% between rounds).
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';

export type AdapterName = 'express' | 'fastify';

/** The HTTP adapters every HTTP bench runs on (BENCH_ADAPTERS, default both). */
export function benchAdapters(): AdapterName[] {
  const names = (process.env.BENCH_ADAPTERS ?? 'express,fastify')
    .split(',')
    .map((a) => a.trim())
    .filter(Boolean);
  for (const name of names)
    if (name !== 'express' && name !== 'fastify') throw new Error(`BENCH_ADAPTERS: unknown adapter ${name}`);
  return names as AdapterName[];
}

/** The connection counts every HTTP bench runs at (BENCH_CONNECTIONS, default 10 and 50). */
export function benchConnections(): number[] {
  const counts = (process.env.BENCH_CONNECTIONS ?? '10,50').split(',').map(Number);
  for (const c of counts)
    if (!Number.isInteger(c) || c < 1) throw new Error(`BENCH_CONNECTIONS: not a connection count: ${c}`);
  return counts;
}

export interface LoadResult {
  requests: number;
  /** CPU time the server process (all its threads) spent per answered request, in µs; NaN when unknown. */
  cpuUs: number;
  p50: number;
  p99: number;
  max: number;
  errors: number;
  non2xx: number;
}

let pinning: { server: string[]; load: string[] } | null | undefined;
/** `taskset` prefixes for servers (CPU 0) and the load generator (the other CPUs), or null when not pinning. */
function pins(): { server: string[]; load: string[] } | null {
  if (pinning !== undefined) return pinning;
  const cpus = availableParallelism();
  const wanted = process.env.BENCH_PIN !== '0';
  const taskset = spawnSync('taskset', ['-c', '0', 'true']).status === 0;
  pinning =
    wanted && cpus >= 2 && taskset
      ? { server: ['taskset', '-c', '0'], load: ['taskset', '-c', cpus === 2 ? '1' : `1-${cpus - 1}`] }
      : null;
  return pinning;
}

/** How servers and the load generator are placed, for the report. */
export function placement(): string {
  const p = pins();
  const flags = serverNodeFlags();
  return `${p ? `servers pinned to CPU 0, wrk to CPU ${p.load[2]}` : 'not pinned'}; server node flags: ${flags.length ? flags.join(' ') : 'none'}`;
}

/**
 * Node flags of every server process, baselines included (`BENCH_NODE_FLAGS`, space-separated; none by default), e.g.
 * `--max-semi-space-size=64` to see what a larger young generation changes.
 */
export function serverNodeFlags(): string[] {
  const given = process.env.BENCH_NODE_FLAGS ?? '';
  return given.split(/\s+/).filter(Boolean);
}

const WRK = '/usr/bin/wrk';
function wrkAvailable(): boolean {
  if (process.env.BENCH_LOAD === 'autocannon') return false;
  try {
    accessSync(WRK, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Which load generator `load` uses. */
export const loadGenerator = (): 'wrk' | 'autocannon' => (wrkAvailable() ? 'wrk' : 'autocannon');

export interface ServerHandle {
  url: string;
  /** The line that announced readiness (`READY <port> …`). */
  line: string;
  child: ChildProcess;
  stop: () => Promise<void>;
}

/** Starts `node <script>` with PORT=0 semantics: the script must print `READY <port>` once listening. */
export function startServer(
  script: string,
  env: Record<string, string> = {},
  args: string[] = [],
): Promise<ServerHandle> {
  return new Promise((resolve, reject) => {
    // taskset execs node in its own process, so `child.pid` stays the server's.
    const [command, ...prefix] = [...(pins()?.server ?? []), process.execPath];
    const child = spawn(command, [...prefix, ...serverNodeFlags(), ...args, script], {
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
  /** The server's process id: its CPU time per request is measured too (Linux /proc). */
  pid?: number;
  /** Sends an `x-tracker` header of 0…trackers−1 (one per request, in turn), so that one generator is many callers. */
  trackers?: number;
  /** Sends `header` with the next of `values` on each request, in turn (e.g. one bearer token per caller). */
  rotate?: { header: string; values: readonly string[] };
}

/** user + system CPU time of a process and all its threads, in µs (Linux), or NaN. */
function cpuTimeUs(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the command name; in ticks of 10 ms.
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  } catch {
    return Number.NaN;
  }
}

/**
 * Drives the server and answers throughput, latency and, with `pid`, the server's CPU time per request: on a
 * machine shared with other work the wall-clock figures move with the neighbours' load, the CPU cost per request
 * much less.
 */
export async function load(options: LoadOptions): Promise<LoadResult> {
  const before = cpuTimeUs(options.pid);
  const { result, total } = await (wrkAvailable() ? wrk(options) : autocannonLoad(options));
  const used = cpuTimeUs(options.pid) - before;
  return { ...result, cpuUs: total > 0 ? used / total : Number.NaN };
}

type Measured = { result: Omit<LoadResult, 'cpuUs'>; total: number };

let scripts: string | undefined;

/** Runs wrk (one thread) and reads its summary: requests/s, latency percentiles and max, errors, non-2xx. */
function wrk(options: LoadOptions): Promise<Measured> {
  scripts ??= mkdtempSync(join(tmpdir(), 'bench-wrk-'));
  const lua: string[] = [];
  if (options.method && options.method !== 'GET') lua.push(`wrk.method = ${JSON.stringify(options.method)}`);
  if (options.body !== undefined) lua.push(`wrk.body = ${JSON.stringify(options.body)}`);
  if (options.trackers !== undefined) {
    lua.push(
      'local n = 0',
      `request = function() n = n + 1; wrk.headers["x-tracker"] = tostring(n % ${options.trackers}); return wrk.format() end`,
    );
  } else if (options.rotate) {
    // JSON string literals of these ASCII values are valid Lua string literals.
    lua.push(
      `local values = { ${options.rotate.values.map((v) => JSON.stringify(v)).join(',\n')} }`,
      'local i = 0',
      `request = function() i = i % #values + 1; wrk.headers[${JSON.stringify(options.rotate.header)}] = values[i]; return wrk.format() end`,
    );
  }
  const args = [
    '-t1',
    `-c${options.connections ?? 10}`,
    `-d${options.duration ?? 5}s`,
    '--timeout',
    '10s',
    '--latency',
  ];
  for (const [name, value] of Object.entries(options.headers ?? {})) args.push('-H', `${name}: ${value}`);
  if (lua.length) {
    const file = join(scripts, `${Math.random().toString(36).slice(2)}.lua`);
    writeFileSync(file, lua.join('\n'));
    args.push('-s', file);
  }
  args.push(options.url);
  return new Promise((resolve, reject) => {
    const pinned = pins()?.load;
    execFile(pinned ? pinned[0] : WRK, pinned ? [...pinned.slice(1), WRK, ...args] : args, (err, stdout) => {
      if (err) return reject(new Error(`wrk failed: ${err.message}`, { cause: err }));
      const ms = (value: string | undefined): number => {
        const m = /^([\d.]+)(us|ms|s|m)$/.exec(value ?? '');
        if (!m) return Number.NaN;
        return Number(m[1]) * ({ us: 0.001, ms: 1, s: 1000, m: 60_000 } as Record<string, number>)[m[2]];
      };
      const pick = (re: RegExp) => re.exec(stdout)?.[1];
      const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
      resolve({
        total: Number(pick(/(\d+) requests in /)),
        result: {
          requests: Number(pick(/Requests\/sec:\s+([\d.]+)/)),
          p50: ms(pick(/\s50%\s+(\S+)/)),
          p99: ms(pick(/\s99%\s+(\S+)/)),
          max: ms(/Latency\s+\S+\s+\S+\s+(\S+)/.exec(stdout)?.[1]),
          errors: socket ? socket.slice(1).reduce((a, n) => a + Number(n), 0) : 0,
          non2xx: Number(pick(/Non-2xx or 3xx responses:\s+(\d+)/) ?? 0),
        },
      });
    });
  });
}

function autocannonLoad(options: LoadOptions): Promise<Measured> {
  let n = 0;
  const { trackers, rotate } = options;
  const setupRequest =
    trackers !== undefined
      ? (req: Record<string, unknown>) => ({
          ...req,
          headers: { ...(req.headers as object), 'x-tracker': String(n++ % trackers) },
        })
      : rotate
        ? (req: Record<string, unknown>) => ({
            ...req,
            headers: { ...(req.headers as object), [rotate.header]: rotate.values[n++ % rotate.values.length] },
          })
        : undefined;
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url: options.url,
        method: options.method ?? 'GET',
        headers: options.headers,
        body: options.body,
        connections: options.connections ?? 10,
        duration: options.duration ?? 5,
        requests: setupRequest ? [{ setupRequest: setupRequest as never }] : undefined,
      },
      (err, result) => {
        if (err) return reject(err as Error);
        resolve({
          total: result.requests.total,
          result: {
            requests: result.requests.average,
            p50: result.latency.p50,
            p99: result.latency.p99,
            max: result.latency.max,
            errors: result.errors,
            non2xx: result.non2xx,
          },
        });
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
  /** Rows of one group are compared with the group's first row (its baseline); e.g. `express, 50 connections`. */
  group?: string;
  options: () => LoadOptions;
}

export interface VariantSummary {
  name: string;
  group?: string;
  rps: number;
  /** Server CPU µs per request (median of the rounds). */
  cpuUs: number;
  p50: number;
  p99: number;
  max: number;
  /** Lowest and highest req/s of the rounds (how noisy the median is). */
  low: number;
  high: number;
  errors: number;
  non2xx: number;
}

/** Runs every variant `rounds` times, interleaved (a b c a b c …), after one warm-up each; answers medians. */
export async function compare(variants: Variant[], rounds = 3, duration = 5): Promise<VariantSummary[]> {
  for (const v of variants) await load({ ...v.options(), duration: 2 });
  const results: LoadResult[][] = variants.map(() => []);
  for (let round = 0; round < rounds; round++) {
    for (const [i, v] of variants.entries()) results[i].push(await load({ ...v.options(), duration }));
  }
  return variants.map((v, i) => {
    const runs = results[i];
    return {
      name: v.name,
      group: v.group,
      rps: median(runs.map((r) => r.requests)),
      cpuUs: median(runs.map((r) => r.cpuUs)),
      p50: median(runs.map((r) => r.p50)),
      p99: median(runs.map((r) => r.p99)),
      max: median(runs.map((r) => r.max)),
      low: Math.min(...runs.map((r) => r.requests)),
      high: Math.max(...runs.map((r) => r.requests)),
      errors: runs.reduce((a, r) => a + r.errors, 0),
      non2xx: runs.reduce((a, r) => a + r.non2xx, 0),
    };
  });
}

/** Each row's req/s as a ratio to its group's first row (the baseline of the same adapter and connections). */
export function ratios(rows: VariantSummary[]): Map<VariantSummary, number> {
  const base = new Map<string | undefined, number>();
  const out = new Map<VariantSummary, number>();
  for (const r of rows) {
    if (!base.has(r.group)) base.set(r.group, r.rps);
    out.set(r, r.rps / base.get(r.group)!);
  }
  return out;
}

/** Each row's CPU cost per request as a throughput ratio to its group's first row (baseline µs / row µs). */
export function cpuRatios(rows: VariantSummary[]): Map<VariantSummary, number> {
  const base = new Map<string | undefined, number>();
  const out = new Map<VariantSummary, number>();
  for (const r of rows) {
    if (!base.has(r.group)) base.set(r.group, r.cpuUs);
    out.set(r, base.get(r.group)! / r.cpuUs);
  }
  return out;
}

const fmt = (ms: number) => (Number.isNaN(ms) ? '–' : ms < 10 ? ms.toFixed(1) : ms.toFixed(0));

/**
 * A markdown table: req/s (median, and the rounds' range), ratio to the first row of the same group (the bare
 * baseline of the same adapter and connection count), p50/p99/max latency (medians of the rounds).
 */
export function table(title: string, rows: VariantSummary[]): string {
  const ratio = ratios(rows);
  const cpu = cpuRatios(rows);
  const pct = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '–' : `${(x * 100).toFixed(1)}%`);
  const lines = [
    `### ${title}`,
    '',
    `load: ${loadGenerator()} (${placement()}); each row's ratios are to the first row of its group ("vs bare": req/s; "CPU vs bare": the baseline's server CPU µs per request over the row's)`,
    '',
    '| group | variant | req/s (median) | range of rounds | vs bare | CPU µs/req | CPU vs bare | p50 ms | p99 ms | max ms | non-2xx / errors |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.group ?? ''} | ${r.name} | ${Math.round(r.rps)} | ${Math.round(r.low)}–${Math.round(r.high)} | ${pct(ratio.get(r))} | ${Number.isNaN(r.cpuUs) ? '–' : r.cpuUs.toFixed(0)} | ${pct(cpu.get(r))} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${fmt(r.max)} | ${r.non2xx} / ${r.errors} |`,
    ),
  ];
  return lines.join('\n');
}

/** Every variant for every adapter × connection count, grouped `<adapter>, <n> conn.`; `make` answers an adapter's variants. */
export function matrix(
  adapters: AdapterName[],
  connections: number[],
  make: (adapter: AdapterName) => Variant[],
): Variant[] {
  const out: Variant[] = [];
  for (const adapter of adapters) {
    const variants = make(adapter);
    for (const c of connections) {
      for (const v of variants) {
        out.push({
          name: v.name,
          group: `${adapter}, ${c} conn.`,
          options: () => ({ ...v.options(), connections: c }),
        });
      }
    }
  }
  return out;
}
