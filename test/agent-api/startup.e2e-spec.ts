/**
 * How the built app starts: from any working directory, several instances at once on a fresh database, a ready
 * admin token in development without JWT_SECRET, a refusal in production without one, a bad policy file named.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUILT_APP, startAgentApiProcess, type AgentApiProcess } from '../support/agent-api.process';
import { createTestDatabase, itWith } from '../support/services';
import { waitFor } from '../support/wait-for';

describe('agent-api startup', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'agent-api-start-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('prints a working admin token in development when no JWT_SECRET is set', async () => {
    const app = await startAgentApiProcess({
      JWT_SECRET: '',
      NODE_ENV: 'development',
      DATABASE_URL: `sqlite:${join(dir, 'dev.sqlite')}`,
    });
    try {
      const token = await waitFor(() => /export TOKEN=(\S+)/.exec(app.output())?.[1], {
        what: 'the printed admin token',
      });
      const res = await fetch(`${app.url}/agents`, { headers: { Authorization: `Bearer ${token}` } });
      expect(res.status).toBe(200);
    } finally {
      await app.stop();
    }
  });

  it('refuses to start in production without a JWT key', () => {
    const run = spawnSync(process.execPath, [BUILT_APP], {
      env: {
        PATH: process.env.PATH ?? '',
        NODE_ENV: 'production',
        PORT: '0',
        DATABASE_URL: `sqlite:${join(dir, 'prod.sqlite')}`,
      },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toMatch(/JWT_SECRET or JWT_PUBLIC_KEY is required/);
  });

  it('refuses a policy file with an error, naming the key', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'roles:\n  operator:\n    operations: ["agent.*"]\n    inherits: [ghost]\n');
    const run = spawnSync(process.execPath, [BUILT_APP], {
      env: {
        PATH: process.env.PATH ?? '',
        NODE_ENV: 'test',
        PORT: '0',
        JWT_SECRET: 'x'.repeat(40),
        POLICY_CONFIG: file,
        DATABASE_URL: `sqlite:${join(dir, 'bad.sqlite')}`,
      },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toMatch(/roles\.operator\.inherits\[0\]: unknown role "ghost"/);
  });

  it('refuses a policy file with a misspelled key, naming its path and the key probably meant', () => {
    const file = join(dir, 'typo.yaml');
    writeFileSync(file, 'roles:\n  admin:\n    operations: ["*"]\nrateLimits:\n  defualt: { limit: 1, ttl: 60 }\n');
    const run = spawnSync(process.execPath, [BUILT_APP], {
      env: {
        PATH: process.env.PATH ?? '',
        NODE_ENV: 'test',
        PORT: '0',
        JWT_SECRET: 'x'.repeat(40),
        POLICY_CONFIG: file,
        DATABASE_URL: `sqlite:${join(dir, 'typo.sqlite')}`,
      },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain(`POLICY_CONFIG ${file}: rateLimits.defualt: unknown key (did you mean "default"?)`);
  });

  it('starts from another working directory and serves /docs showing what each route requires', async () => {
    const app = await startAgentApiProcess({ DATABASE_URL: `sqlite:${join(dir, 'docs.sqlite')}` });
    try {
      const health = await fetch(`${app.url}/health`);
      expect(await health.json()).toEqual({ status: 'ok', database: 'up', redis: 'disabled' });
      expect((await fetch(`${app.url}/docs`)).status).toBe(200);
      const doc = (await (await fetch(`${app.url}/docs-json`)).json()) as {
        paths: Record<string, Record<string, { summary?: string; description?: string }>>;
      };
      const getAgent = doc.paths['/agents/{id}'].get;
      expect(getAgent.summary).toContain('agent.read');
      expect(getAgent.description).toContain('`agents:read`');
      expect(doc.paths['/sessions/{id}/events'].post.description).toContain('event.create');
      const info = (doc as unknown as { info: { description: string } }).info.description;
      expect(info).toContain('| principal | day | cost: 5, tokens: 200000, requests: 1000 |');
      expect(info).toContain('| echo-1 | 0.5 | 1.5 |');
    } finally {
      await app.stop();
    }
  });

  const startTogether = async (n: number, env: Record<string, string>): Promise<AgentApiProcess[]> =>
    Promise.all(Array.from({ length: n }, () => startAgentApiProcess(env, 60_000)));

  it('comes up with three instances starting at once on a fresh SQLite file', async () => {
    const apps = await startTogether(3, { DATABASE_URL: `sqlite:${join(dir, 'shared.sqlite')}` });
    try {
      for (const app of apps) expect((await fetch(`${app.url}/health`)).status).toBe(200);
    } finally {
      await Promise.all(apps.map((a) => a.stop()));
    }
  }, 90_000);

  itWith('postgres')(
    'comes up with three instances starting at once on a fresh PostgreSQL database',
    async () => {
      const db = await createTestDatabase('startup');
      try {
        const apps = await startTogether(3, { DATABASE_URL: db.url });
        try {
          for (const app of apps) expect((await fetch(`${app.url}/health`)).status).toBe(200);
        } finally {
          await Promise.all(apps.map((a) => a.stop()));
        }
      } finally {
        await db.drop();
      }
    },
    90_000,
  );
});
