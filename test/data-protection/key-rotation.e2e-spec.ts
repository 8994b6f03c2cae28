/**
 * Key rotation and key checks of the built agent-api (SPEC §14): `data rotate` re-encrypts in batches while the
 * app serves reads and writes, leaves no value on the old key and loses no row; legacy plaintext rows are read and
 * then encrypted; a stored kid with no key stops the boot naming it; production refuses to start without keys.
 * Needs `npm run build`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { ADMIN, signToken, TEST_SECRET } from '../support/agent-api.harness';
import { BUILT_APP, startAgentApiProcess, type AgentApiProcess } from '../support/agent-api.process';
import { createTestDatabase, itWith } from '../support/services';
import { keyEnv, newKey, rawExecute, rawRows } from './data-protection.fixtures';

const CLI = join(BUILT_APP, '..', 'cli.js');

interface Customer {
  id: string;
  name: string;
  email: string;
  phone: string;
}

async function api(
  app: AgentApiProcess,
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: any }> {
  const res = await fetch(`${app.url}${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

function runCli(env: Record<string, string>, args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: tmpdir(),
      env: { PATH: process.env.PATH ?? '', NODE_ENV: 'test', JWT_SECRET: TEST_SECRET, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.once('exit', (code) => resolve({ code, out }));
  });
}

describe.each(['sqlite', 'postgres'] as const)('key rotation (%s)', (database) => {
  const it = database === 'postgres' ? itWith('postgres') : itWith();
  let databaseUrl: string;
  let cleanup: () => Promise<void>;
  const k1 = newKey();
  const k2 = newKey();
  const blind = newKey();

  beforeAll(async () => {
    if (database === 'postgres') {
      const db = await createTestDatabase('rotate');
      databaseUrl = db.url;
      cleanup = db.drop;
    } else {
      const dir = mkdtempSync(join(tmpdir(), 'rotate-'));
      databaseUrl = `sqlite:${join(dir, 'db.sqlite')}`;
      cleanup = async () => rmSync(dir, { recursive: true, force: true });
    }
  });
  afterAll(async () => {
    await cleanup?.();
  });

  it('re-encrypts every value under the new key while the app serves, losing none; then the old key can go', async () => {
    const tenant = `t-${randomUUID()}`;
    // The `pro` tier (5 × the default 600 requests a minute): the readers and the writer below run as long as the
    // rotation does, which on a loaded machine can be many seconds; they also stop at a count that stays under it.
    const token = signToken({ ...ADMIN, tenant_id: tenant, tier: 'pro' }, { expiresIn: '30m' });
    const expected = new Map<string, Customer>();

    // 1. Data written under k1, plus two rows written before encryption existed (plaintext, no blind index).
    let app = await startAgentApiProcess({ DATABASE_URL: databaseUrl, ...keyEnv({ k1 }, blind) });
    try {
      for (let i = 0; i < 60; i++) {
        const body = {
          name: `Rotating Person ${i}`,
          email: `rot.${i}@example.org`,
          phone: `+33 1 23 45 ${String(10 + i)}`,
        };
        const res = await api(app, token, 'POST', '/customers', body);
        expect(res.status).toBe(201);
        expected.set(res.body.id, { id: res.body.id, ...body });
      }
    } finally {
      await app.stop();
    }
    for (const i of [0, 1]) {
      const legacy = { id: randomUUID(), name: `Legacy Person ${i}`, email: `Legacy.${i}@Example.org`, phone: null };
      await rawExecute(
        databaseUrl,
        'INSERT INTO customers (id, tenant_id, owner_id, created_at, updated_at, name, email) VALUES ($1, $2, $3, $4, $4, $5, $6)',
        [legacy.id, tenant, 'legacy-owner', Date.now(), legacy.name, legacy.email],
      );
      expected.set(legacy.id, legacy as unknown as Customer);
    }

    // 2. Restart with k2 first (it encrypts), k1 still held; rotate while reads and writes go on.
    const both = keyEnv({ k2, k1 }, blind);
    app = await startAgentApiProcess({ DATABASE_URL: databaseUrl, ...both });
    let reads = 0;
    const wrong: string[] = [];
    try {
      const legacyFound = await api(
        app,
        token,
        'GET',
        `/customers?email=${encodeURIComponent('legacy.0@example.org')}`,
      );
      expect(legacyFound.body.items.map((c: Customer) => c.name)).toEqual(['Legacy Person 0']);

      let rotating = true;
      const ids = [...expected.keys()];
      const MAX_READS = 1200;
      const MAX_WRITES = 200;
      const reader = async () => {
        while (rotating && reads < MAX_READS) {
          for (const id of ids) {
            const res = await api(app, token, 'GET', `/customers/${id}`);
            const want = expected.get(id)!;
            reads += 1;
            if (
              res.status !== 200 ||
              res.body.name !== want.name ||
              res.body.email !== want.email ||
              (res.body.phone ?? null) !== (want.phone ?? null)
            ) {
              wrong.push(`${id}: ${res.status} ${JSON.stringify(res.body)}`);
            }
          }
        }
      };
      const writer = async () => {
        let n = 0;
        while (rotating && n < MAX_WRITES) {
          const id = ids[n % 60];
          const phone = `+1 202 555 ${String(1000 + n)}`;
          // The expectation is updated before the write lands: readers may briefly see the old phone, so they compare after it.
          const res = await api(app, token, 'PATCH', `/customers/${id}`, { phone });
          if (res.status !== 200) wrong.push(`PATCH ${id}: ${res.status}`);
          expected.get(id)!.phone = phone;
          n += 1;
        }
      };
      const readers = Promise.all([reader(), reader()]);
      const writing = writer();
      const rotation = await runCli({ DATABASE_URL: databaseUrl, ...both }, ['data', 'rotate', '--batch-size', '7']);
      rotating = false;
      await Promise.all([readers, writing]);
      expect(rotation.out).toMatch(/data rotate: \d+ rows re-encrypted under kid "k2"/);
      expect(rotation.code).toBe(0);
      // A phone read while its PATCH was in flight may be the previous one; every other mismatch is a defect.
      expect(wrong.filter((w) => !/"phone":"\+1 202 555|"phone":"\+33 1 23/.test(w) || /PATCH/.test(w))).toEqual([]);
      expect(reads).toBeGreaterThan(60);
      console.log(
        `${database}: ${rotation.out.trim()}; ${reads} reads and concurrent PATCHes during rotation, ${wrong.length} stale phone reads`,
      );
    } finally {
      await app.stop();
    }

    // 3. Nothing left on k1 or in clear; every row kept; every e-mail indexed.
    const raw = await rawRows(databaseUrl);
    expect(raw.customers).toHaveLength(expected.size);
    for (const row of raw.customers) {
      for (const col of ['name', 'email'] as const) expect(row[col]).toMatch(/^v1:k2:/);
      if (row.phone !== null) expect(row.phone).toMatch(/^v1:k2:/);
      expect(row.email_bidx).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(JSON.stringify(raw)).not.toMatch(/Legacy|Rotating|example\.org/);

    // 4. k1 removed: the app boots and every value reads back as written; the legacy row is found by its index.
    app = await startAgentApiProcess({ DATABASE_URL: databaseUrl, ...keyEnv({ k2 }, blind) });
    try {
      for (const want of expected.values()) {
        const res = await api(app, token, 'GET', `/customers/${want.id}`);
        expect(res.status).toBe(200);
        expect({ name: res.body.name, email: res.body.email, phone: res.body.phone ?? null }).toEqual({
          name: want.name,
          email: want.email,
          phone: want.phone ?? null,
        });
      }
      const legacy = await api(app, token, 'GET', `/customers?email=${encodeURIComponent('LEGACY.1@example.org ')}`);
      expect(legacy.body.items.map((c: Customer) => c.name)).toEqual(['Legacy Person 1']);
    } finally {
      await app.stop();
    }

    // 5. A ring without k2 cannot read what is stored: the boot stops, naming the kid and where it is.
    const boot = spawnSync(process.execPath, [BUILT_APP], {
      cwd: tmpdir(),
      env: {
        PATH: process.env.PATH ?? '',
        NODE_ENV: 'test',
        PORT: '0',
        JWT_SECRET: TEST_SECRET,
        DATABASE_URL: databaseUrl,
        ...keyEnv({ k3: newKey() }, blind),
      },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(boot.status).not.toBe(0);
    expect(boot.stderr).toMatch(/DATA_KEYS has no key for kid "k2" found in customers\.name/);
  }, 180_000);
});

describe('data keys at boot', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'datakeys-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const boot = (env: Record<string, string>) =>
    spawnSync(process.execPath, [BUILT_APP], {
      cwd: tmpdir(),
      env: {
        PATH: process.env.PATH ?? '',
        PORT: '0',
        JWT_SECRET: TEST_SECRET,
        DATABASE_URL: `sqlite:${join(dir, `${randomUUID()}.sqlite`)}`,
        ...env,
      },
      encoding: 'utf8',
      timeout: 90_000,
    });

  it('production refuses to start without DATA_KEYS or BLIND_INDEX_KEY', () => {
    // Each boot is a fresh node process; on a busy machine that takes a while.
    const none = boot({ NODE_ENV: 'production' });
    expect(none.status).not.toBe(0);
    expect(none.stderr).toMatch(/DATA_KEYS is required when NODE_ENV=production/);
    const noIndex = boot({ NODE_ENV: 'production', DATA_KEYS: `k1:${newKey()}` });
    expect(noIndex.status).not.toBe(0);
    expect(noIndex.stderr).toMatch(/BLIND_INDEX_KEY is required when NODE_ENV=production/);
  }, 200_000);

  it('a key that is not 32 bytes is refused naming its kid, never echoing it', () => {
    const short = Buffer.alloc(16, 7).toString('base64');
    const run = boot({ NODE_ENV: 'test', DATA_KEYS: `good:${newKey()},weak:${short}`, BLIND_INDEX_KEY: newKey() });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toMatch(/DATA_KEYS: key "weak" is 16 bytes; AES-256 needs 32/);
    expect(run.stderr + run.stdout).not.toContain(short);
  }, 100_000);

  it('in development without keys, one is derived and a warning says so', async () => {
    const app = await startAgentApiProcess({
      NODE_ENV: 'development',
      DATABASE_URL: `sqlite:${join(dir, 'dev.sqlite')}`,
    });
    try {
      for (let i = 0; i < 50 && !/DATA_KEYS or BLIND_INDEX_KEY not set/.test(app.output()); i++)
        await new Promise((r) => setTimeout(r, 100));
      expect(app.output()).toMatch(
        /DATA_KEYS or BLIND_INDEX_KEY not set: field encryption uses a development key \(kid "dev-[0-9a-f]{8}"\)/,
      );
      const token = signToken(ADMIN);
      const res = await api(app, token, 'POST', '/customers', { name: 'Dev Person' });
      expect(res.status).toBe(201);
    } finally {
      await app.stop();
    }
    const raw = await rawRows(`sqlite:${join(dir, 'dev.sqlite')}`);
    expect(raw.customers[0].name).toMatch(/^v1:dev-[0-9a-f]{8}:/);
  }, 100_000);
});
