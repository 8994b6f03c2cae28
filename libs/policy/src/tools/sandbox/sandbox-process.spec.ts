import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeWhenConfinable } from '../../../../../test/sandbox/sandbox.support';
import { buildSandboxCommand } from './sandbox-command';
import { hostTools, permissionFlag, realNodePath, sandboxEnvironment, systemMounts } from './sandbox-host';
import { SandboxProcess } from './sandbox-process';
import { SANDBOX_RUNNER_SOURCE } from './sandbox-runner.script';

const options = { env: sandboxEnvironment([], {}), startTimeoutMs: 20_000, maxOutputBytes: 1 << 20 };

describeWhenConfinable('SandboxProcess fails closed', () => {
  let rootDir: string;

  beforeAll(() => {
    rootDir = mkdtempSync(join(tmpdir(), 'sandbox-root-'));
  });

  afterAll(() => rmSync(rootDir, { recursive: true, force: true }));

  it('refuses a runner started without namespaces or permission model (it would run unconfined)', async () => {
    const unconfined = new SandboxProcess({
      ...options,
      command: { file: process.execPath, args: ['-e', SANDBOX_RUNNER_SOURCE] },
    });
    await expect(unconfined.ready).rejects.toMatchObject({
      reason: 'unavailable',
      message: expect.stringMatching(/not confined/),
    });
    await expect(unconfined.run('{"source":"() => 1","args":"null"}', 1000)).rejects.toMatchObject({ reason: 'crash' });
  });

  it('refuses a runner confined by namespaces but without Node’s permission model', async () => {
    const nodePath = realNodePath();
    const command = buildSandboxCommand({
      tools: hostTools(),
      nodePath,
      permissionFlag: '--no-warnings',
      rootDir,
      systemMounts: systemMounts(nodePath),
      readPaths: [],
      readMounts: [],
      memoryMb: 64,
      cpuSeconds: 30,
    });
    const child = new SandboxProcess({ ...options, command });
    await expect(child.ready).rejects.toMatchObject({
      reason: 'unavailable',
      message: expect.stringMatching(/permission model/),
    });
  });

  it('reports the setup’s own error when the confinement cannot be set up', async () => {
    const nodePath = realNodePath();
    const command = buildSandboxCommand({
      tools: hostTools(),
      nodePath,
      permissionFlag: permissionFlag()!,
      rootDir: join(rootDir, 'missing-dir'),
      systemMounts: systemMounts(nodePath),
      readPaths: [],
      readMounts: [],
      memoryMb: 64,
      cpuSeconds: 30,
    });
    const child = new SandboxProcess({ ...options, command });
    await expect(child.ready).rejects.toMatchObject({
      reason: 'unavailable',
      message: expect.stringMatching(/could not start confined: .*mount/),
    });
  });

  it('answers start when a process does not become ready in time', async () => {
    const slow = new SandboxProcess({
      ...options,
      startTimeoutMs: 200,
      command: { file: '/bin/sh', args: ['-c', 'sleep 5'] },
    });
    await expect(slow.ready).rejects.toMatchObject({ reason: 'start' });
  });
});
