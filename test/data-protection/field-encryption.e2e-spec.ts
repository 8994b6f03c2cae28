/**
 * Field encryption at rest in agent-api (SPEC §14): customers' name, email and phone and events' message and reply
 * are stored encrypted on SQLite and PostgreSQL; `GET /customers?email=` finds through the blind index, inside the
 * caller's tenant; a tampered value is refused, never returned as garbage.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { ADMIN, signToken, startAgentApi, type DatabaseKind, type Harness } from '../support/agent-api.harness';
import { createTestDatabase, itWith } from '../support/services';
import type { HttpAdapterKind } from '../../apps/agent-api/src/bootstrap';
import { keyEnv, newKey, rawExecute, rawRows, seed, sqliteBytes, type Seeded } from './data-protection.fixtures';

const combos: Array<[HttpAdapterKind, DatabaseKind]> = [
  ['express', 'sqlite'],
  ['fastify', 'sqlite'],
  ['express', 'postgres'],
  ['fastify', 'postgres'],
];

describe.each(combos)('field encryption (%s, %s)', (adapter, database) => {
  const it = database === 'postgres' ? itWith('postgres') : itWith();
  let h: Harness;
  let databaseUrl: string;
  let cleanup: () => Promise<void>;
  let data: Seeded;
  const keys = { k1: newKey() };

  beforeAll(async () => {
    if (database === 'postgres') {
      const db = await createTestDatabase('protect');
      databaseUrl = db.url;
      cleanup = db.drop;
    } else {
      const dir = mkdtempSync(join(tmpdir(), 'protect-'));
      databaseUrl = `sqlite:${join(dir, 'db.sqlite')}`;
      cleanup = async () => rmSync(dir, { recursive: true, force: true });
    }
    h = await startAgentApi({ adapter, env: { DATABASE_URL: databaseUrl, ...keyEnv(keys, newKey()) } });
    data = await seed(h, 3);
  }, 60_000);

  afterAll(async () => {
    await h?.close();
    await cleanup?.();
  });

  const maybe = (name: string, fn: () => Promise<void>) => it(name, fn);

  const auth = () => ({ Authorization: `Bearer ${data.token}` });

  maybe('answers the plaintexts through the API, and never the blind index', async () => {
    const c = data.customers[1];
    const one = await h.http().get(`/customers/${c.id}`).set(auth()).expect(200);
    expect(one.body).toMatchObject({ id: c.id, name: c.name, email: c.email, phone: c.phone });
    expect(one.body).not.toHaveProperty('emailIndex');
    expect(JSON.stringify(one.body)).not.toMatch(/v1:k1:|bidx/);
    const created = await h
      .http()
      .post('/customers')
      .set(auth())
      .send({ name: 'Temp Person', email: 'temp@example.org' })
      .expect(201);
    expect(Object.keys(created.body).sort()).toEqual([
      'createdAt',
      'email',
      'id',
      'name',
      'ownerId',
      'phone',
      'tenantId',
      'updatedAt',
    ]);
    await h.http().delete(`/customers/${created.body.id}`).set(auth()).expect(204);
    const events = await h
      .http()
      .get(`/sessions/${data.sessionId}/events`)
      .set(auth())
      .query({ limit: 100 })
      .expect(200);
    const texts = (events.body.items as Array<{ message: string }>).map((e) => e.message);
    for (const m of data.messages) expect(texts.filter((t) => t.includes(m)).length).toBeGreaterThanOrEqual(2); // message and its echo
  });

  maybe('stores none of the plaintexts: every value is v1 ciphertext under the primary kid', async () => {
    const raw = await rawRows(databaseUrl);
    const dump =
      JSON.stringify(raw) + (databaseUrl.startsWith('sqlite:') ? sqliteBytes(databaseUrl.slice('sqlite:'.length)) : '');
    const plaintexts = [
      ...data.customers.flatMap((c) => [c.name, c.email, c.phone]),
      ...data.messages,
      'quartz',
      'Plaintext',
      'example.org',
    ];
    for (const p of plaintexts) expect(dump.includes(p)).toBe(false);
    expect(raw.customers.length).toBe(data.customers.length);
    for (const row of raw.customers) {
      for (const col of ['name', 'email', 'phone'] as const)
        expect(row[col]).toMatch(/^v1:k1:[\w-]{16}:[\w-]{22}:[\w-]+$/);
      expect(row.email_bidx).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(raw.events.length).toBe(data.messages.length * 2);
    for (const row of raw.events) expect(row.message).toMatch(/^v1:k1:/);
  });

  maybe(
    'GET /customers?email= finds by the blind index (case and spaces ignored), inside the tenant only',
    async () => {
      const c = data.customers[2];
      const found = await h
        .http()
        .get('/customers')
        .set(auth())
        .query({ email: `  ${c.email.toUpperCase()} ` })
        .expect(200);
      expect(found.body.items.map((i: { id: string }) => i.id)).toEqual([c.id]);
      expect(found.body.items[0]).not.toHaveProperty('emailIndex');
      const none = await h.http().get('/customers').set(auth()).query({ email: 'nobody@example.org' }).expect(200);
      expect(none.body.items).toEqual([]);
      const otherTenant = signToken({ ...ADMIN, tenant_id: `t-${randomUUID()}` });
      const hidden = await h
        .http()
        .get('/customers')
        .set({ Authorization: `Bearer ${otherTenant}` })
        .query({ email: c.email })
        .expect(200);
      expect(hidden.body.items).toEqual([]);
      const bad = await h
        .http()
        .get('/customers')
        .set(auth())
        .query({ email: 'x'.repeat(400) })
        .expect(400);
      expect(bad.body.code).toBe('validation_failed');
    },
  );

  maybe('PATCH re-encrypts and re-indexes the e-mail', async () => {
    const c = data.customers[0];
    const email = `moved.${randomUUID()}@example.net`;
    const res = await h
      .http()
      .patch(`/customers/${c.id}`)
      .set(auth())
      .send({ email, phone: '+1 555 0100' })
      .expect(200);
    expect(res.body).toMatchObject({ email, phone: '+1 555 0100', name: c.name });
    expect(res.body).not.toHaveProperty('emailIndex');
    expect((await h.http().get('/customers').set(auth()).query({ email: c.email }).expect(200)).body.items).toEqual([]);
    expect(
      (await h.http().get('/customers').set(auth()).query({ email }).expect(200)).body.items.map(
        (i: { id: string }) => i.id,
      ),
    ).toEqual([c.id]);
    const raw = await rawRows(databaseUrl);
    expect(JSON.stringify(raw)).not.toContain(email);
    c.email = email;
    c.phone = '+1 555 0100';
  });

  maybe('a tampered ciphertext is refused with a clear error, not garbage; other rows still read', async () => {
    const [victim, other] = [data.customers[1], data.customers[2]];
    const raw = (await rawRows(databaseUrl)).customers.find((r) => r.id === victim.id)!;
    const parts = raw.name!.split(':');
    const ct = Buffer.from(parts[4], 'base64url');
    ct[0] ^= 0x01;
    parts[4] = ct.toString('base64url');
    await rawExecute(databaseUrl, 'UPDATE customers SET name = $1 WHERE id = $2', [parts.join(':'), victim.id]);
    const res = await h.http().get(`/customers/${victim.id}`).set(auth()).expect(500);
    expect(res.body).toEqual({ statusCode: 500, code: 'internal_error', message: 'Internal server error' });
    await h.http().get(`/customers/${other.id}`).set(auth()).expect(200);
  });
});
