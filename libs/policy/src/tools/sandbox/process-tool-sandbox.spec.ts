import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  countingServer,
  describeWhenConfinable,
  measureResponsiveness,
} from '../../../../../test/sandbox/sandbox.support';
import { ProcessToolSandbox } from './process-tool-sandbox';
import { SandboxFailedError, SandboxTimeoutError } from './sandbox.errors';
import type { SandboxTask } from './tool-sandbox.interface';

/** The longest the server's event loop may go without a tick while a task runs in the sandbox. */
const RESPONSIVE_GAP_MS = 500;

/** Every way the task's source might get hold of the sandbox process's `process`, tried in turn. */
const REACH = `const reach = () => {
  const tries = [
    () => globalThis.process,
    () => (function () { return this; })().constructor.constructor('return process')(),
    () => ({}).constructor.constructor('return process')(),
    () => Function('return process')(),
    () => { Error.prepareStackTrace = (_, frames) => frames.map((f) => f.getFunction()).filter(Boolean); const fns = new Error().stack; Error.prepareStackTrace = undefined; for (const fn of fns) { try { const p = fn.constructor('return process')(); if (p) return p; } catch (e) {} } },
  ];
  for (const t of tries) { try { const p = t(); if (p && p.pid) return p; } catch (e) {} }
  return undefined;
};`;

function task(source: string, extra: Partial<SandboxTask> = {}): SandboxTask {
  return { source, args: null, timeoutMs: 5000, limits: {}, ...extra };
}

describeWhenConfinable('ProcessToolSandbox', () => {
  let sandbox: ProcessToolSandbox;

  beforeAll(async () => {
    sandbox = new ProcessToolSandbox({ poolSize: 1, startTimeoutMs: 20_000 });
    await sandbox.warm({});
  });

  afterAll(() => sandbox.close());

  describe('running tasks', () => {
    it('answers the JSON result of a sync or async function of its arguments', async () => {
      await expect(
        sandbox.run(
          task('(args) => ({ sum: args.a + args.b, tags: args.tags })', { args: { a: 2, b: 3, tags: ['x'] } }),
        ),
      ).resolves.toEqual({ sum: 5, tags: ['x'] });
      await expect(
        sandbox.run(task('async ({ n }) => { await null; return n * 2; }', { args: { n: 21 } })),
      ).resolves.toBe(42);
      await expect(sandbox.run(task('() => undefined'))).resolves.toBeUndefined();
    });

    it('evaluates code through eval inside the task, as a run_js tool does', async () => {
      await expect(
        sandbox.run(task('({ code }) => (0, eval)(code)', { args: { code: '[1, 2, 3].map((x) => x * x)' } })),
      ).resolves.toEqual([1, 4, 9]);
    });

    it('rejects with reason error and the thrown message when the function throws or rejects', async () => {
      await expect(sandbox.run(task('() => { throw new TypeError("bad input") }'))).rejects.toMatchObject({
        reason: 'error',
        message: 'TypeError: bad input',
      });
      await expect(sandbox.run(task('async () => { throw new Error("later") }'))).rejects.toMatchObject({
        reason: 'error',
        message: 'Error: later',
      });
      await expect(sandbox.run(task('42'))).rejects.toMatchObject({
        reason: 'error',
        message: expect.stringMatching(/not.*function/),
      });
      await expect(sandbox.run(task('(a) => {'))).rejects.toMatchObject({
        reason: 'error',
        message: expect.stringMatching(/^SyntaxError/),
      });
    });

    it('rejects a result that is not JSON or is too large with reason output', async () => {
      await expect(sandbox.run(task('() => 10n'))).rejects.toMatchObject({ reason: 'output' });
      await expect(sandbox.run(task('() => "x".repeat(2 * 1024 * 1024)'))).rejects.toMatchObject({ reason: 'output' });
    });

    it('gives each task a fresh context: globals left by one task are gone for the next', async () => {
      await sandbox.run(task('() => { globalThis.leak = "caller A"; Object.prototype.polluted = true; return 1; }'));
      await expect(sandbox.run(task('() => [typeof globalThis.leak, ({}).polluted === undefined]'))).resolves.toEqual([
        'undefined',
        true,
      ]);
    });

    it.each([
      ['an empty source', { source: '  ' }],
      ['a zero timeout', { timeoutMs: 0 }],
      ['an infinite timeout', { timeoutMs: Infinity }],
      ['arguments that are not JSON', { args: { n: 1n } }],
      ['a memory cap below 16 MB', { limits: { memoryMb: 4 } }],
      ['a fractional memory cap', { limits: { memoryMb: 64.5 } }],
      ['a variable name with "="', { limits: { env: ['A=B'] } }],
      ['a relative read path', { limits: { readPaths: ['data/app.sqlite'] } }],
      ['a missing read path', { limits: { readPaths: ['/nonexistent/app.sqlite'] } }],
    ])('rejects a task with %s with reason invalid', async (_label, extra) => {
      await expect(sandbox.run(task('() => 1', extra as Partial<SandboxTask>))).rejects.toMatchObject({
        reason: 'invalid',
      });
    });
  });

  describe('escapes tried from the task source', () => {
    it('the task sees no process, require, module or timers, and none of the known ways out of the context works', async () => {
      const seen = await sandbox.run(
        task(`async () => { ${REACH}
        const imported = await import('node:fs').then(() => 'imported', (e) => e.code || e.name);
        return { process: typeof process, require: typeof require, module: typeof module, setTimeout: typeof setTimeout, reached: typeof reach(), imported };
      }`),
      );
      expect(seen).toEqual({
        process: 'undefined',
        require: 'undefined',
        module: 'undefined',
        setTimeout: 'undefined',
        reached: 'undefined',
        imported: expect.not.stringMatching(/^imported$/),
      });
    });

    it('a thenable result cannot reach the runner’s process through the resolve function', async () => {
      const source =
        '() => ({ then(resolve) { let p; try { p = resolve.constructor("return process")(); } catch (e) {} resolve(p && p.env ? Object.keys(p.env) : "no process"); } })';
      await expect(sandbox.run(task(source, { limits: { env: [] } }))).resolves.toBe('no process');
    });

    it.each([
      ['print process.env', 'return Object.keys((reach() || globalThis.process).env)'],
      ['write a file', "(reach() || globalThis.process).mainModule.require('fs').writeFileSync(args.file, 'x')"],
      ['run a command', "return (reach() || globalThis.process).mainModule.require('child_process').execSync('id')"],
    ])('trying to %s fails', async (_label, body) => {
      const file = join(tmpdir(), `sandbox-escape-${randomUUID()}`);
      const run = sandbox.run(task(`(args) => { ${REACH} ${body} }`, { args: { file } }));
      await expect(run).rejects.toBeInstanceOf(SandboxFailedError);
      await expect(run).rejects.toMatchObject({ reason: 'error' });
      expect(existsSync(file)).toBe(false);
    });

    it('trying to connect to a port of the server fails and the server sees no connection', async () => {
      const server = await countingServer({ port: 0, host: '127.0.0.1' });
      try {
        const run = sandbox.run(
          task(
            `(args) => { ${REACH} const net = (reach() || globalThis.process).mainModule.require('net'); return new Promise((resolve) => net.connect(args.port, '127.0.0.1').on('connect', () => resolve('connected'))); }`,
            { args: { port: server.address } },
          ),
        );
        await expect(run).rejects.toMatchObject({ reason: 'error' });
        expect(server.connections()).toBe(0);
      } finally {
        await server.close();
      }
    });
  });

  describe('limits', () => {
    it('kills an infinite loop at timeoutMs while the server keeps answering', async () => {
      const started = performance.now();
      const { outcome, ticks, maxGapMs } = await measureResponsiveness(() =>
        sandbox.run(task('() => { while (true) {} }', { timeoutMs: 800 })),
      );
      const elapsed = performance.now() - started;
      expect(outcome.status).toBe('rejected');
      expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(SandboxTimeoutError);
      expect(elapsed).toBeGreaterThanOrEqual(790);
      expect(elapsed).toBeLessThan(5000);
      expect(ticks).toBeGreaterThan(20);
      // A loop run on the server's own event loop would hold it for the whole task (≥ 800 ms); the bound leaves
      // room for the scheduling and GC pauses of a loaded 2-core machine (250 ms was exceeded there), never for that.
      expect(maxGapMs).toBeLessThan(RESPONSIVE_GAP_MS);
    });

    it('kills a task allocating 1 GB of buffers, with reason memory', async () => {
      await expect(
        sandbox.run(
          task('() => { const b = new Uint8Array(1024 * 1024 * 1024); b.fill(1); return b.length; }', {
            timeoutMs: 20_000,
          }),
        ),
      ).rejects.toMatchObject({ reason: 'memory' });
    });

    it('kills a heap memory bomb with reason memory while the server keeps answering', async () => {
      const { outcome, ticks, maxGapMs } = await measureResponsiveness(() =>
        sandbox.run(
          task('() => { const keep = []; for (;;) keep.push({ s: "x".repeat(64) + Math.random() }); }', {
            timeoutMs: 30_000,
          }),
        ),
      );
      expect(outcome.status).toBe('rejected');
      expect((outcome as PromiseRejectedResult).reason).toMatchObject({ reason: 'memory' });
      expect(ticks).toBeGreaterThan(5);
      expect(maxGapMs).toBeLessThan(RESPONSIVE_GAP_MS);
    });

    it('honours a larger per-task cap: 160 MB of buffers pass with memoryMb 256, not with the default 128', async () => {
      const source = '() => { const b = new Uint8Array(160 * 1024 * 1024); b.fill(1); return b.length; }';
      await expect(sandbox.run(task(source, { timeoutMs: 20_000, limits: { memoryMb: 256 } }))).resolves.toBe(
        160 * 1024 * 1024,
      );
      await expect(sandbox.run(task(source, { timeoutMs: 20_000 }))).rejects.toMatchObject({ reason: 'memory' });
    });
  });

  it('close kills a running task (reason closed) and later tasks reject with reason closed', async () => {
    const other = new ProcessToolSandbox({ poolSize: 1, startTimeoutMs: 20_000 });
    await other.warm({});
    const running = other.run(task('() => { while (true) {} }', { timeoutMs: 20_000 }));
    running.catch(() => undefined);
    // The sandbox shows no "task started" signal; a moment lets the task reach the process, so close() meets it running.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = performance.now();
    await other.close();
    await expect(running).rejects.toMatchObject({ reason: 'closed' });
    expect(performance.now() - started).toBeLessThan(5000);
    await expect(other.run(task('() => 1'))).rejects.toMatchObject({ reason: 'closed' });
  });
});
