/**
 * Secrets never reach the audit log or the process output: the built agent-api receives valid and invalid JWTs,
 * valid and invalid API keys, passwords, cookies and tokens in query strings, on routes that are granted (with
 * `audit.grants` on), denied, rate limited and refused; afterwards no column of any `policy_audit_events` row and
 * no line the process printed contains any of them. Needs `npm run build` (done by `npm test`).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADMIN, signToken } from '../support/agent-api.harness';
import { startAgentApiProcess, type AgentApiProcess } from '../support/agent-api.process';
import { auditRows, bearer, writePolicy } from './audit-http.support';

const random = () => randomBytes(18).toString('base64url');

describe.each(['express', 'fastify'] as const)('secrets in the audit log and the logs (%s)', (adapter) => {
  let dir: string;
  let app: AgentApiProcess;
  let databaseUrl: string;
  /** Every secret sent, by what it is. */
  const secrets = new Map<string, string>();
  const keep = (name: string, value: string) => {
    secrets.set(name, value);
    return value;
  };
  /** A JWT, its signature on its own, and its payload on its own. */
  const keepToken = (name: string, token: string) => {
    const [, payload, signature] = token.split('.');
    if (payload) keep(`${name} payload`, payload);
    if (signature) keep(`${name} signature`, signature);
    return keep(name, token);
  };
  /** An `apk_<id>_<secret>` key and its secret part on its own. */
  const keepApiKey = (name: string, key: string) => {
    keep(`${name} secret part`, key.slice('apk_'.length + 17));
    return keep(name, key);
  };

  const send = async (
    path: string,
    init: { method?: string; headers?: Record<string, string>; body?: unknown } = {},
  ) => {
    const res = await fetch(`${app.url}${path}`, {
      method: init.method ?? 'GET',
      headers: { ...(init.body ? { 'content-type': 'application/json' } : {}), ...init.headers },
      body: init.body ? JSON.stringify(init.body) : undefined,
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'audit-secrets-'));
    databaseUrl = `sqlite:${join(dir, 'app.sqlite')}`;
    const policy = writePolicy(dir, (p) => {
      p.audit = { grants: true };
      p.rateLimits = {
        ...p.rateLimits,
        operations: { ...p.rateLimits?.operations, 'budget.read': { limit: 1, ttl: 60 } },
      };
    });
    app = await startAgentApiProcess({ DATABASE_URL: databaseUrl, POLICY_CONFIG: policy, HTTP_ADAPTER: adapter });
  });
  afterAll(async () => {
    await app?.stop('SIGKILL');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('stores and prints none of the credentials, passwords and cookies it received', async () => {
    const admin = keepToken('admin JWT', signToken({ sub: 'root-admin', ...ADMIN }));
    const customer = keepToken(
      'customer JWT',
      signToken({ sub: 'cust-1', roles: ['customer'], scope: 'agents:read budgets:read' }),
    );
    const password = keep('password', `Pa55-${random()}`);
    const cookie = keep('cookie', `sess-${random()}`);
    const cookieHeader = `session=${cookie}; token=${keep('cookie token', `ck-${random()}`)}`;
    const queryToken = keep('query token', `qs-${random()}`);

    // Granted (recorded with audit.grants): an admin creating an agent with a password in the body and a cookie.
    const withPassword = await send('/agents', {
      method: 'POST',
      headers: { ...bearer(admin), Cookie: cookieHeader },
      body: { name: 'secret agent', password },
    });
    // Granted, then refused by validation: `password` is not a property of an agent.
    expect(withPassword.status).toBe(400);
    expect(JSON.stringify(withPassword.body)).not.toContain(password);
    const agent = await send('/agents', {
      method: 'POST',
      headers: { ...bearer(admin), Cookie: cookieHeader },
      body: { name: 'secret agent', instructions: `log in with password=${password}` },
    });
    expect(agent.status).toBe(201);

    // Denied: a customer listing agents, with a token in the query string and a cookie.
    expect(
      (
        await send(`/agents?access_token=${queryToken}&password=${password}`, {
          headers: { ...bearer(customer), Cookie: cookieHeader },
        })
      ).status,
    ).toBe(403);

    // An API key: created (api_key.created), used on a granted and on a denied route.
    const created = await send('/api-keys', {
      method: 'POST',
      headers: bearer(admin),
      body: { name: 'ci', roles: ['admin'], scopes: ['agents:read'] },
    });
    expect(created.status).toBe(201);
    const apiKey = keepApiKey('API key', created.body.key as string);
    expect((await send('/agents', { headers: { 'X-API-Key': apiKey } })).status).toBe(200);
    expect((await send('/audit', { headers: { 'X-API-Key': apiKey, Cookie: cookieHeader } })).status).toBe(403);

    // Authentication failures: JWTs signed with another key, expired, garbage; unknown and wrong API keys.
    const failures: Array<Record<string, string>> = [
      bearer(keepToken('foreign JWT', signToken(ADMIN, { key: 'another-secret-another-secret-another-secret' }))),
      bearer(keepToken('expired JWT', signToken(ADMIN, { expiresIn: -10 }))),
      bearer(keep('garbage bearer', `garbage-${random()}`)),
      { 'X-API-Key': keepApiKey('unknown API key', `apk_${randomBytes(8).toString('hex')}_${random()}`) },
      { 'X-API-Key': keepApiKey('wrong-secret API key', `${apiKey.slice(0, 'apk_'.length + 17)}${random()}`) },
    ];
    for (const headers of failures) {
      // A key-shaped request id is stored as the event's request id unless it is redacted.
      const requestId = keepApiKey('request id', `apk_${randomBytes(8).toString('hex')}_${random()}`);
      expect(
        (await send('/agents', { headers: { ...headers, Cookie: cookieHeader, 'X-Request-Id': requestId } })).status,
      ).toBe(401);
    }

    // Revocations: the token (token.revoked) and the key (api_key.revoked), then both refused.
    const jti = randomUUID();
    const revokedToken = keepToken('revoked JWT', signToken({ sub: 'root-admin', ...ADMIN }, { jwtid: jti }));
    expect((await send('/revocations', { method: 'POST', headers: bearer(admin), body: { jti } })).status).toBe(204);
    expect((await send('/agents', { headers: bearer(revokedToken) })).status).toBe(401);
    expect(
      (await send(`/api-keys/${created.body.id as string}`, { method: 'DELETE', headers: bearer(admin) })).status,
    ).toBe(204);
    expect((await send('/agents', { headers: { 'X-API-Key': apiKey } })).status).toBe(401);

    // Rate limited: budget.read allows one call a minute.
    expect((await send('/budgets/remaining', { headers: { ...bearer(customer), Cookie: cookieHeader } })).status).toBe(
      200,
    );
    expect((await send('/budgets/remaining', { headers: { ...bearer(customer), Cookie: cookieHeader } })).status).toBe(
      429,
    );

    await app.stop('SIGTERM');

    const rows = await auditRows(databaseUrl);
    const count = (type: string) => rows.filter((row) => row.type === type).length;
    // Every kind of event the requests above cause was stored, so the search below has something to search.
    expect({
      authFailures: count('auth.failure'),
      denied: count('access.denied'),
      granted: count('access.granted') > 0,
      keysCreated: count('api_key.created'),
      keysRevoked: count('api_key.revoked'),
      tokensRevoked: count('token.revoked'),
      rateLimited: count('rate_limit.exceeded'),
    }).toEqual({
      authFailures: 7,
      denied: 2,
      granted: true,
      keysCreated: 1,
      keysRevoked: 1,
      tokensRevoked: 1,
      rateLimited: 1,
    });

    const stored = rows.map((row) => Object.values(row).map(String).join('\u0000')).join('\n');
    // Controls: the search sees every column (details hold the revoked token id) and the whole output.
    expect(stored).toContain(jti);
    const output = app.output();
    expect(output).toMatch(/listening on/);
    const leaks = [...secrets].flatMap(([name, value]) => [
      ...(stored.includes(value) ? [`${name} in policy_audit_events`] : []),
      ...(output.includes(value) ? [`${name} in the process output`] : []),
    ]);
    expect(leaks).toEqual([]);
  }, 60_000);
});
