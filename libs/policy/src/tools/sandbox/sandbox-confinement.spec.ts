/**
 * The layers under the `vm` context hold on their own: here the task is HANDED the sandbox process's real `process`
 * and `require` (as if it had escaped its context), and every escape still fails. Evidence is taken on the host
 * side wherever it can be (the file does not exist, the server saw no connection).
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { countingServer, describeWhenConfinable } from '../../../../../test/sandbox/sandbox.support';
import { buildSandboxCommand } from './sandbox-command';
import {
  hostTools,
  permissionFlag,
  planReadMounts,
  realNodePath,
  sandboxEnvironment,
  systemMounts,
} from './sandbox-host';
import { SandboxProcess } from './sandbox-process';
import { SANDBOX_RUNNER_SOURCE } from './sandbox-runner.script';

const HANDED_RUNNER = SANDBOX_RUNNER_SOURCE.replace('await fn(args)', 'await fn(args, { process, require })');

describeWhenConfinable('sandbox confinement, with process and require in the task’s hands', () => {
  let rootDir: string;
  let work: string;
  const secrets = {
    JWT_SECRET: 'jwt-secret-value',
    DATABASE_URL: 'postgres://user:pw@db/app',
    SANDBOX_VISIBLE: 'visible',
  };

  beforeAll(() => {
    expect(HANDED_RUNNER).not.toBe(SANDBOX_RUNNER_SOURCE);
    rootDir = mkdtempSync(join(tmpdir(), 'sandbox-root-'));
    work = mkdtempSync(join(tmpdir(), 'sandbox-work-'));
    mkdirSync(join(work, 'kb'));
    writeFileSync(join(work, 'kb', 'faq.json'), '{"q":"hours"}');
    writeFileSync(join(work, 'app.sqlite'), 'SQLite format 3\0secret rows');
  });

  afterAll(() => {
    rmSync(rootDir, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  });

  /** Runs `body` (the inside of an async function with `process`, `require` and `args` in scope) confined. */
  async function runHanded(
    body: string,
    options: { env?: string[]; readPaths?: string[]; args?: unknown } = {},
  ): Promise<unknown> {
    const nodePath = realNodePath();
    const system = systemMounts(nodePath);
    const read = planReadMounts(options.readPaths ?? [], system);
    const command = buildSandboxCommand({
      tools: hostTools(),
      nodePath,
      permissionFlag: permissionFlag()!,
      rootDir,
      systemMounts: system,
      readPaths: read.paths,
      readMounts: read.mounts,
      memoryMb: 128,
      cpuSeconds: 60,
      runnerSource: HANDED_RUNNER,
    });
    const sandbox = new SandboxProcess({
      command,
      env: sandboxEnvironment(options.env ?? [], { ...process.env, ...secrets }),
      startTimeoutMs: 20_000,
      maxOutputBytes: 1 << 20,
    });
    await sandbox.ready;
    const source = `async (args, host) => { const process = host.process; const require = host.require; ${body} }`;
    return sandbox.run(JSON.stringify({ source, args: JSON.stringify(options.args ?? null) }), 10_000);
  }

  const attempt = `const attempt = (fn) => { try { const r = fn(); return r === undefined ? 'done' : r; } catch (e) { return e.code || e.message; } };`;

  it('process.env holds only the allowlisted variables: no JWT_SECRET, DATABASE_URL or PATH', async () => {
    const seen = (await runHanded(
      `${attempt} return {
      env: { ...process.env },
      environ: attempt(() => require('fs').readFileSync('/proc/self/environ', 'utf8')),
    };`,
      { env: ['SANDBOX_VISIBLE', 'NOT_SET_ANYWHERE'] },
    )) as { env: Record<string, string>; environ: string };
    expect(seen.env).toEqual({ SANDBOX_VISIBLE: 'visible' });
    expect(seen.environ).toBe('ERR_ACCESS_DENIED');
  });

  it('cannot write to disk anywhere, even under a read path', async () => {
    const marker = `sandbox-escape-${randomUUID()}`;
    const targets = [join(tmpdir(), marker), join(work, marker), join(work, 'kb', marker)];
    const codes = await runHanded(
      `${attempt} const fs = require('fs'); return args.targets.flatMap((t) => [
      attempt(() => fs.writeFileSync(t, 'x')),
      attempt(() => fs.mkdirSync(t + '.d')),
      attempt(() => fs.appendFileSync(args.kb, 'x')),
    ]);`,
      { readPaths: [join(work, 'kb')], args: { targets, kb: join(work, 'kb', 'faq.json') } },
    );
    expect(codes).toEqual(Array(9).fill('ERR_ACCESS_DENIED'));
    for (const t of targets) expect(existsSync(t) || existsSync(`${t}.d`)).toBe(false);
  });

  it('reads only under readPaths: the app’s SQLite file, /etc/passwd and /proc fail, the read path works', async () => {
    const result = await runHanded(
      `${attempt} const fs = require('fs'); return {
      sqlite: attempt(() => fs.readFileSync(args.sqlite, 'utf8')),
      passwd: attempt(() => fs.readFileSync('/etc/passwd', 'utf8')),
      proc: attempt(() => fs.readFileSync('/proc/self/status', 'utf8')),
      listRoot: attempt(() => fs.readdirSync('/')),
      kb: attempt(() => fs.readFileSync(args.kb, 'utf8')),
    };`,
      { readPaths: [join(work, 'kb')], args: { sqlite: join(work, 'app.sqlite'), kb: join(work, 'kb', 'faq.json') } },
    );
    expect(result).toEqual({
      sqlite: 'ERR_ACCESS_DENIED',
      passwd: 'ERR_ACCESS_DENIED',
      proc: 'ERR_ACCESS_DENIED',
      listRoot: 'ERR_ACCESS_DENIED',
      kb: '{"q":"hours"}',
    });
  });

  it('cannot start child processes or workers', async () => {
    const result = await runHanded(`${attempt} const cp = require('child_process'); return {
      execSync: attempt(() => String(cp.execSync('id'))),
      spawnSync: attempt(() => { const r = cp.spawnSync('/bin/sh', ['-c', 'id']); return r.error ? r.error.code || r.error.message : String(r.stdout); }),
      fork: attempt(() => { cp.fork('/usr/bin/true'); return 'forked'; }),
      worker: attempt(() => { new (require('worker_threads').Worker)('1', { eval: true }); return 'worker'; }),
    };`);
    expect(result).toEqual({
      execSync: 'ERR_ACCESS_DENIED',
      spawnSync: 'ERR_ACCESS_DENIED',
      fork: 'ERR_ACCESS_DENIED',
      worker: 'ERR_ACCESS_DENIED',
    });
  });

  it('cannot load native code or reach internal bindings', async () => {
    const result = await runHanded(`${attempt} return {
      dlopen: attempt(() => process.dlopen({ exports: {} }, '/usr/lib/none.node')),
      binding: attempt(() => process.binding('fs')),
    };`);
    expect(result).toEqual({ dlopen: 'ERR_DLOPEN_DISABLED', binding: 'ERR_ACCESS_DENIED' });
  });

  it('cannot connect to a port on 127.0.0.1 nor to a Unix socket of the host; the servers see nothing', async () => {
    const tcp = await countingServer({ port: 0, host: '127.0.0.1' });
    const unix = await countingServer({ path: join(work, 'app.sock') });
    try {
      const result = await runHanded(
        `const net = require('net');
        const attempt = (target) => new Promise((resolve) => {
          const socket = net.connect(target);
          socket.on('connect', () => { socket.destroy(); resolve('connected'); });
          socket.on('error', (e) => resolve(e.code || e.message));
          require('timers').setTimeout(() => { socket.destroy(); resolve('timeout'); }, 2000);
        });
        const dns = await new Promise((resolve) => require('dns').lookup('example.com', (e) => resolve(e ? e.code : 'resolved')));
        return { tcp: await attempt({ host: '127.0.0.1', port: args.port }), unix: await attempt(args.path), dns };`,
        { args: { port: tcp.address, path: unix.address } },
      );
      expect(result).toEqual({
        tcp: expect.not.stringMatching(/^(connected|timeout)$/),
        unix: expect.not.stringMatching(/^(connected|timeout)$/),
        dns: expect.not.stringMatching(/^resolved$/),
      });
      expect(tcp.connections()).toBe(0);
      expect(unix.connections()).toBe(0);
    } finally {
      await tcp.close();
      await unix.close();
    }
  });

  it('holds no capability: cannot change its groups or ids (so neither mount nor chroot out)', async () => {
    const result = await runHanded(`${attempt} return {
      setgroups: attempt(() => process.setgroups([])),
      setgid: attempt(() => process.setgid(1234)),
      setuid: attempt(() => process.setuid(1234)),
      uid: process.getuid(),
    };`);
    expect(result).toEqual({ setgroups: 'EPERM', setgid: 'EPERM', setuid: 'EPERM', uid: 0 });
  });

  it('cannot signal or see the server process', async () => {
    const result = await runHanded(
      `${attempt} return {
      signal: attempt(() => process.kill(args.pid, 0)),
      ppid: process.ppid,
    };`,
      { args: { pid: process.pid } },
    );
    expect(result).toEqual({ signal: 'ESRCH', ppid: 1 });
  });
});
