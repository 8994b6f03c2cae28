/**
 * Structured logs in production (SPEC §14): the built app writes JSON lines through pino, one per request with
 * request id, principal id, operation, status and latency; across the error paths no token, API key, secret, key
 * or plaintext of an encrypted field appears anywhere in its output. Needs `npm run build`.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADMIN, signToken, TEST_SECRET } from '../support/agent-api.harness';
import { startAgentApiProcess } from '../support/agent-api.process';
import { keyEnv, newKey, rawExecute, rawRows } from '../data-protection/data-protection.fixtures';
import { waitFor } from '../support/wait-for';

describe.each(['express', 'fastify'] as const)('secure JSON logs (%s)', (adapter) => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'logs-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('logs one JSON line per request and none of the secrets or plaintexts it handled', async () => {
    const dataKey = newKey();
    const blindKey = newKey();
    const databaseUrl = `sqlite:${join(dir, 'db.sqlite')}`;
    const app = await startAgentApiProcess({
      NODE_ENV: 'production',
      HTTP_ADAPTER: adapter,
      DATABASE_URL: databaseUrl,
      ...keyEnv({ live: dataKey }, blindKey),
    });
    const tag = randomBytes(5).toString('hex');
    const admin = signToken({ ...ADMIN, sub: `admin-${tag}`, tenant_id: 't-logs' });
    const forged = signToken({ ...ADMIN, sub: 'mallory' }, { key: 'another-secret-that-is-long-enough-0123456789' });
    const expired = signToken({ ...ADMIN }, { expiresIn: -60 });
    const operator = signToken({ roles: ['operator'], scope: 'admin', sub: `op-${tag}` });
    const pii = {
      name: `Quentin Logtest ${tag}`,
      email: `quentin.${tag}@example.net`,
      phone: `+49 30 ${tag.slice(0, 6).replace(/\D/g, '1')}99`,
    };
    const message = `my card pin is ${tag}-7731`;
    const password = `hunter2-${tag}`;
    const cookie = `sid=cookie-${tag}`;
    const secrets: string[] = [
      TEST_SECRET,
      dataKey,
      blindKey,
      admin,
      forged,
      expired,
      operator,
      pii.name,
      pii.email,
      pii.phone,
      message,
      password,
      cookie,
    ];
    const sent: Array<{ id: string; status: number; principalId: string | null; operation: string | null }> = [];
    let n = 0;
    const call = async (
      method: string,
      path: string,
      headers: Record<string, string>,
      body?: unknown,
      raw?: string,
    ) => {
      const id = `req-${tag}-${n++}`;
      const res = await fetch(`${app.url}${path}`, {
        method,
        headers: { 'X-Request-Id': id, 'Content-Type': 'application/json', Cookie: cookie, ...headers },
        body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
      });
      const text = await res.text();
      return { id, status: res.status, body: text.startsWith('{') ? JSON.parse(text) : text };
    };
    const expect1 = async (
      method: string,
      path: string,
      headers: Record<string, string>,
      status: number,
      principalId: string | null,
      operation: string | null,
      body?: unknown,
      raw?: string,
    ) => {
      const res = await call(method, path, headers, body, raw);
      expect({ path, status: res.status }).toEqual({ path, status });
      sent.push({ id: res.id, status, principalId, operation });
      return res;
    };
    try {
      const bearer = (t: string) => ({ Authorization: `Bearer ${t}` });
      const created = await expect1('POST', '/customers', bearer(admin), 201, `admin-${tag}`, 'customer.create', pii);
      await expect1(
        'GET',
        `/customers?email=${encodeURIComponent(pii.email)}`,
        bearer(admin),
        200,
        `admin-${tag}`,
        'customer.list',
      );
      await expect1('GET', `/customers/${created.body.id}`, bearer(admin), 200, `admin-${tag}`, 'customer.read');
      const agent = await expect1('POST', '/agents', bearer(admin), 201, `admin-${tag}`, 'agent.create', { name: 'a' });
      const session = await expect1('POST', '/sessions', bearer(admin), 201, `admin-${tag}`, 'session.create', {
        agentId: agent.body.id,
      });
      await expect1('POST', `/sessions/${session.body.id}/events`, bearer(admin), 201, `admin-${tag}`, 'event.create', {
        message,
      });
      const key = await expect1('POST', '/api-keys', bearer(admin), 201, `admin-${tag}`, 'api-key.create', {
        name: 'k',
        roles: ['admin'],
        scopes: ['admin'],
      });
      const apiKey: string = key.body.key;
      expect(apiKey).toMatch(/^apk_/);
      const wrongKey = `${apiKey.slice(0, -6)}zzzzzz`;
      // apk_<16 hex id>_<secret>; the secret is base64url and may itself hold '_'.
      secrets.push(apiKey, wrongKey, /^apk_[0-9a-f]{16}_(.+)$/.exec(apiKey)![1]);
      await expect1('GET', '/agents', { 'X-API-Key': apiKey }, 200, null, 'agent.list');
      await expect1('GET', '/agents', { 'X-API-Key': wrongKey }, 401, null, null);
      await expect1('GET', '/agents', bearer(forged), 401, null, null);
      await expect1('GET', '/agents', bearer(expired), 401, null, null);
      await expect1('GET', '/agents', {}, 401, null, null);
      await expect1('POST', '/customers', bearer(operator), 403, `op-${tag}`, 'customer.create', pii);
      await expect1('POST', '/customers', bearer(admin), 400, `admin-${tag}`, 'customer.create', { ...pii, password });
      await expect1(
        'POST',
        '/customers',
        bearer(admin),
        400,
        null,
        null,
        undefined,
        `{"name": "${pii.name}", "token": "${admin}"`,
      );
      await expect1(
        'POST',
        '/customers',
        bearer(admin),
        413,
        null,
        null,
        undefined,
        JSON.stringify({ name: pii.name, pad: message.repeat(60_000) }),
      );
      await expect1(
        'GET',
        `/customers/${encodeURIComponent(pii.email)}`,
        bearer(admin),
        400,
        `admin-${tag}`,
        'customer.read',
      );
      await expect1(
        'GET',
        `/nowhere?token=${admin}&email=${encodeURIComponent(pii.email)}`,
        bearer(admin),
        404,
        null,
        null,
      );
      // A tampered ciphertext: a 500 whose log names the column and kid, never the value.
      const row = (await rawRows(databaseUrl)).customers[0];
      const parts = row.name!.split(':');
      parts[4] = `${parts[4].slice(0, -2)}AA`;
      await rawExecute(databaseUrl, 'UPDATE customers SET name = $1 WHERE id = $2', [parts.join(':'), row.id]);
      await expect1('GET', `/customers/${created.body.id}`, bearer(admin), 500, `admin-${tag}`, 'customer.read');
      // A request's log line is written once its answer is sent: wait until every one (and the integrity error) is out.
      await waitFor(
        () => {
          const out = app.output();
          return (
            /failed its integrity check \(GCM tag\)/.test(out) &&
            sent.every((want) => out.includes(`"requestId":"${want.id}"`))
          );
        },
        { what: 'the log lines of every request' },
      );
    } finally {
      await app.stop();
    }

    const output = app.output();
    for (const secret of secrets) expect({ secret, found: output.includes(secret) }).toEqual({ secret, found: false });
    const lines = output.split('\n').filter((l) => l.trim().length > 0);
    const parsed = lines.map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        throw new Error(`not a JSON line: ${l.slice(0, 200)}`);
      }
    });
    expect(parsed.some((l) => l.msg === 'request' && l.level === 30)).toBe(true);
    expect(
      parsed.some(
        (l) => typeof l.msg === 'string' && /failed its integrity check \(GCM tag\)/.test(l.msg) && l.level === 50,
      ),
    ).toBe(true);
    for (const want of sent) {
      const mine = parsed.filter((l) => l.msg === 'request' && l.requestId === want.id);
      expect(mine).toHaveLength(1);
      const line = mine[0];
      expect({ id: want.id, status: line.status, operation: line.operation }).toEqual({
        id: want.id,
        status: want.status,
        operation: want.operation,
      });
      if (want.principalId !== null) expect(line.principalId).toBe(want.principalId);
      if (want.status === 401) expect(line.principalId).toBeNull();
      expect(typeof line.latencyMs).toBe('number');
      expect(line.route === null || /^\/[a-z/:-]*$/.test(line.route as string)).toBe(true);
    }
  }, 120_000);
});
