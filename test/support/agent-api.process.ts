/**
 * Runs the built agent-api (`dist/apps/agent-api/main.js`, built by `npm test` before jest starts) as a real
 * process, for multi-instance, crash (SIGKILL) and shutdown (SIGTERM) suites.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TEST_SECRET } from './agent-api.harness';

export const BUILT_APP = join(__dirname, '..', '..', 'dist', 'apps', 'agent-api', 'main.js');

export interface AgentApiProcess {
  url: string;
  child: ChildProcess;
  /** Everything the process printed so far (stdout and stderr). */
  output: () => string;
  /** Sends a signal and resolves with the exit code once the process is gone. */
  stop: (signal?: NodeJS.Signals) => Promise<number | null>;
}

/**
 * Starts one agent-api process on a free port. `env` adds to a test baseline (JWT secret, no color).
 * @throws when the built app is missing or the process exits before it listens.
 */
export function startAgentApiProcess(env: Record<string, string>, timeoutMs = 30_000): Promise<AgentApiProcess> {
  if (!existsSync(BUILT_APP)) throw new Error(`${BUILT_APP} is missing: run "npm run build" first`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BUILT_APP], {
      cwd: tmpdir(),
      env: {
        PATH: process.env.PATH ?? '',
        NODE_ENV: 'test',
        NO_COLOR: '1',
        JWT_SECRET: TEST_SECRET,
        PORT: '0',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let settled = false;
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      child.kill('SIGKILL');
      reject(new Error(`agent-api did not start within ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const match = /listening on http:\/\/[^\s:]+:(\d+)/.exec(out);
      if (match && !settled) {
        settled = true;
        clearTimeout(timer);
        resolve({
          url: `http://127.0.0.1:${match[1]}`,
          child,
          output: () => out,
          stop: (signal: NodeJS.Signals = 'SIGTERM') =>
            new Promise((done) => {
              if (child.exitCode !== null || child.signalCode !== null) return done(child.exitCode);
              child.once('exit', (code) => done(code));
              child.kill(signal);
            }),
        });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new Error(`agent-api exited with ${code} before listening:\n${out}`));
    });
  });
}
