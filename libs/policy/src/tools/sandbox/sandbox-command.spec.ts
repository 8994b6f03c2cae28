import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { buildSandboxCommand, NODE_BASELINE_MB, type SandboxCommandInput } from './sandbox-command';
import { planReadMounts } from './sandbox-host';
import { selfCheckProblem } from './sandbox-process';

const input: SandboxCommandInput = {
  tools: { prlimit: '/usr/bin/prlimit', unshare: '/usr/bin/unshare', sh: '/bin/sh', setpriv: '/usr/bin/setpriv' },
  nodePath: '/usr/bin/node',
  permissionFlag: '--experimental-permission',
  rootDir: '/tmp/tool-sandbox-x',
  systemMounts: [
    { kind: 'dir', path: '/usr' },
    { kind: 'link', path: '/lib', target: 'usr/lib' },
  ],
  readPaths: ['/srv/data', '/srv/data/kb.json'],
  readMounts: [{ kind: 'dir', path: '/srv/data' }],
  memoryMb: 96,
  cpuSeconds: 300,
};

function nodeArgs(args: string[]): string[] {
  return args.slice(args.indexOf('/usr/bin/node'));
}

describe('buildSandboxCommand', () => {
  it('caps private memory at the task cap plus Node’s baseline, forbids core dumps and file growth, backstops CPU', () => {
    const { file, args } = buildSandboxCommand(input);
    expect(file).toBe('/usr/bin/prlimit');
    expect(args.slice(0, args.indexOf('--'))).toEqual([
      `--data=${(96 + NODE_BASELINE_MB) * 1024 * 1024}`,
      '--cpu=300',
      '--core=0',
      '--fsize=0',
    ]);
  });

  it('starts the setup in new mount, network, PID, IPC and UTS namespaces that die with their parent', () => {
    const { args } = buildSandboxCommand(input);
    const unshare = args.slice(args.indexOf('/usr/bin/unshare'), args.indexOf('/bin/sh'));
    expect(unshare).toEqual(
      expect.arrayContaining(['--mount', '--net', '--pid', '--ipc', '--uts', '--fork', '--kill-child']),
    );
  });

  it('passes the mounts to the setup script, read paths after system ones, each as a (kind, path, target) triple', () => {
    const { args } = buildSandboxCommand(input);
    const start = args.indexOf('sandbox-setup') + 1;
    expect(args.slice(start, args.indexOf('/usr/bin/setpriv'))).toEqual([
      '/tmp/tool-sandbox-x',
      'dir',
      '/usr',
      '-',
      'link',
      '/lib',
      'usr/lib',
      'dir',
      '/srv/data',
      '-',
      '--',
    ]);
  });

  it('starts Node through setpriv with every capability dropped and no way to regain one', () => {
    const { args } = buildSandboxCommand(input);
    const setpriv = args.slice(args.indexOf('/usr/bin/setpriv'), args.indexOf('/usr/bin/node'));
    expect(setpriv).toEqual(
      expect.arrayContaining(['--bounding-set=-all', '--inh-caps=-all', '--ambient-caps=-all', '--no-new-privs']),
    );
    expect(setpriv.find((a) => a.startsWith('--securebits='))).toMatch(/\+noroot,\+noroot_locked/);
  });

  it('runs Node under the permission model granting only reads of readPaths, with the heap capped', () => {
    const node = nodeArgs(buildSandboxCommand(input).args);
    expect(node[1]).toBe('--experimental-permission');
    expect(node.filter((a) => a.startsWith('--allow-'))).toEqual([
      '--allow-fs-read=/srv/data',
      '--allow-fs-read=/srv/data/kb.json',
    ]);
    expect(node).toContain('--max-old-space-size=96');
    expect(node[node.length - 2]).toBe('-e');
  });

  it('grants no read at all when the task has no readPaths', () => {
    const node = nodeArgs(buildSandboxCommand({ ...input, readPaths: [], readMounts: [] }).args);
    expect(node.filter((a) => a.startsWith('--allow-'))).toEqual([]);
  });
});

describe('planReadMounts', () => {
  const system = [{ kind: 'dir' as const, path: '/usr' }];

  it('mounts a path once, and not when a system directory or another read path already shows it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'plan-'));
    try {
      writeFileSync(join(dir, 'a.db'), 'x');
      const plan = planReadMounts([join(dir, 'a.db'), dir, `${dir}/`, '/usr/share'], system);
      expect(plan.paths).toEqual([join(dir, 'a.db'), dir, '/usr/share']);
      expect(plan.mounts).toEqual([{ kind: 'dir', path: dir }]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('mounts a file as a file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'plan-'));
    try {
      writeFileSync(join(dir, 'a.db'), 'x');
      expect(planReadMounts([join(dir, 'a.db')], system).mounts).toEqual([{ kind: 'file', path: join(dir, 'a.db') }]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each([
    ['a relative path', 'data/kb.json', /not an absolute path/],
    ['the root directory', '/', /root directory/],
    ['a missing path', '/nonexistent/sandbox/path', /does not exist/],
  ])('refuses %s', (_label, path, message) => {
    expect(() => planReadMounts([path], system)).toThrow(message);
  });
});

describe('selfCheckProblem', () => {
  const confined = { permission: true, interfaces: [], ppid: 1, capabilities: false };

  it('accepts a confined process', () => {
    expect(selfCheckProblem(confined)).toBeUndefined();
  });

  it.each([
    ['no check', undefined, /no self-check/],
    ['no permission model', { ...confined, permission: false }, /permission model/],
    ['a network interface', { ...confined, interfaces: ['eth0'] }, /network interfaces.*eth0/],
    ['the host PID namespace', { ...confined, ppid: 4242 }, /PID namespace/],
    ['capabilities', { ...confined, capabilities: true }, /capabilities/],
  ])('refuses a process with %s', (_label, check, message) => {
    expect(selfCheckProblem(check)).toMatch(message);
  });
});
