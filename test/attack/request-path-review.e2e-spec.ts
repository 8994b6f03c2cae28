/**
 * Review attacks on the request path after routePolicy(), the per-route decision context, the per-IP anonymous
 * principals, writeRateLimitHeaders and agent-api's SQLite read-by-id statement, on Express and Fastify:
 * - agent-api (SQLite) reads by id: another tenant's or another customer's record, malformed ids (not UUIDs, empty,
 *   100 KB, NUL, `%00`, uppercase, SQL-looking), a deleted record, and 200+ concurrent reads mixing tenants, owners
 *   and scope shapes: never a 500, never another scope's record, each answer bound to its own caller's scope;
 * - a public route behind a trusted proxy: anonymous limits per IPv4, per IPv6 /64, garbage, empty, NUL-laden and
 *   10 KB `X-Forwarded-For`, and past 10,000 distinct anonymous IPs (the principal cache is cleared, counts are not);
 * - rate-limit headers in every `rateLimits.headers` style and in shadow mode;
 * - a protected route reached after a public Express handler's `next()`.
 */
import { IncomingMessage, ServerResponse, type IncomingHttpHeaders, type Server } from 'node:http';
import { Socket, type AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { Controller, Get, Next, type INestApplication, type Type } from '@nestjs/common';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import jwt from 'jsonwebtoken';
import {
  CurrentPrincipal,
  PolicyModule,
  Public,
  RequireOperation,
  RequireScopes,
  type PolicyModuleOptions,
  type Principal,
} from 'nest-agent-policy';
import { BASE_OPTIONS, PolicyTestAppModule, SECRET } from '../policy-module/policy-test.app';
import { ADMIN, signToken, startAgentApi, type Harness } from '../support/agent-api.harness';
import { get, inPool, keepAlive, parseBody as parse, rawRequest, type Answer } from '../support/http-client';

type Adapter = 'express' | 'fastify';
const ADAPTERS: Adapter[] = ['express', 'fastify'];

const portOf = (app: INestApplication) => (app.getHttpServer().address() as AddressInfo).port;

// ---------------------------------------------------------------------------------------------------------------
// agent-api on SQLite: reads by id
// ---------------------------------------------------------------------------------------------------------------

interface Caller {
  name: string;
  sub: string;
  tenant?: string;
  /** Every allowing role is `own`: reads are limited to the caller's own records. */
  own: boolean;
  /** The kinds of record the caller's roles and scopes may read. */
  reads: Array<'agents' | 'customers' | 'sessions'>;
  auth: Record<string, string>;
}

interface Made {
  kind: 'agents' | 'customers' | 'sessions';
  id: string;
  tenant: string | null;
  owner: string;
  name?: string;
}

describe.each(ADAPTERS)('review: agent-api reads by id on SQLite (%s)', (adapter) => {
  let h: Harness;
  let port: number;
  const callers: Record<string, Caller> = {};
  const records: Record<string, Made> = {};

  const caller = (
    name: string,
    claims: { roles: string[]; scope: string; tenant_id?: string },
    own: boolean,
    reads: Caller['reads'],
    sub = `${name}-${randomUUID()}`,
  ): Caller => {
    const c = {
      name,
      sub,
      tenant: claims.tenant_id,
      own,
      reads,
      auth: { Authorization: `Bearer ${signToken({ sub, ...claims })}` },
    };
    callers[name] = c;
    return c;
  };

  beforeAll(async () => {
    h = await startAgentApi({
      adapter,
      database: 'sqlite',
      configure: (config) => {
        config.policy.rateLimits = {
          ...config.policy.rateLimits,
          default: { limit: 100_000, ttl: 60 },
          anonymous: { limit: 100_000, ttl: 60 },
        };
      },
    });
    port = Number(new URL(h.url).port);
    const all: Caller['reads'] = ['agents', 'customers', 'sessions'];
    const adminA = caller('adminA', { ...ADMIN, tenant_id: 'tenant-a' }, false, all);
    const adminB = caller('adminB', { ...ADMIN, tenant_id: 'tenant-b' }, false, all);
    caller('root', { ...ADMIN }, false, all);
    caller(
      'viewerA',
      { roles: ['viewer'], scope: 'agents:read customers:read sessions:read', tenant_id: 'tenant-a' },
      false,
      all,
    );
    const customer = (name: string, tenant: string | undefined, sub?: string) =>
      caller(
        name,
        { roles: ['customer'], scope: 'sessions:write events:write', ...(tenant ? { tenant_id: tenant } : {}) },
        true,
        ['sessions'],
        sub,
      );
    const alice = customer('aliceA', 'tenant-a');
    const bob = customer('bobA', 'tenant-a');
    const eveA = customer('eveA', 'tenant-a', 'eve-shared-sub');
    const eveB = customer('eveB', 'tenant-b', 'eve-shared-sub');
    const carol = customer('carolB', 'tenant-b');
    // No tenant: an absent tenant_id means every tenant; still only its own records.
    const dave = customer('daveNoTenant', undefined);

    const make = async (kind: Made['kind'], by: Caller, body: Record<string, unknown>): Promise<Made> => {
      const res = await h.http().post(`/${kind}`).set(by.auth).send(body);
      expect(res.status).toBe(201);
      return {
        kind,
        id: res.body.id as string,
        tenant: by.tenant ?? null,
        owner: by.sub,
        name: body.name as string | undefined,
      };
    };
    records.agentA = await make('agents', adminA, { name: 'agent of a' });
    records.agentB = await make('agents', adminB, { name: 'agent of b' });
    records.customerA = await make('customers', adminA, { name: 'Customer A', email: 'a@example.com' });
    records.customerB = await make('customers', adminB, { name: 'Customer B', email: 'b@example.com' });
    records.sessionAlice = await make('sessions', alice, { agentId: records.agentA.id });
    records.sessionBob = await make('sessions', bob, { agentId: records.agentA.id });
    records.sessionEveA = await make('sessions', eveA, { agentId: records.agentA.id });
    records.sessionEveB = await make('sessions', eveB, { agentId: records.agentB.id });
    records.sessionCarol = await make('sessions', carol, { agentId: records.agentB.id });
    records.sessionDave = await make('sessions', dave, { agentId: records.agentA.id });
  }, 60_000);

  afterAll(async () => {
    await h?.close();
  });

  /** Whether `c` may see `r`: its tenant (when it has one), and itself as owner when its roles are `own`. */
  const visible = (c: Caller, r: Made) =>
    (c.tenant === undefined || r.tenant === c.tenant) && (!c.own || r.owner === c.sub);

  const expectScoped = (res: { status: number; body: any }, c: Caller, r: Made) => {
    if (visible(c, r)) {
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ id: r.id, tenantId: r.tenant, ownerId: r.owner });
      if (r.kind !== 'sessions') expect(res.body.name).toBe(r.name);
    } else {
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ statusCode: 404, code: 'not_found', message: expect.any(String) });
    }
  };

  it("hides another tenant's agents, customers and sessions, and another customer's session; shows the owner its own", async () => {
    const { adminA, adminB, viewerA, aliceA, bobA, eveA, eveB, daveNoTenant, root } = callers;
    const { agentA, agentB, customerA, customerB, sessionAlice, sessionEveA, sessionEveB, sessionDave } = records;
    const cases: Array<[Caller, Made, number]> = [
      [adminA, agentA, 200],
      [adminA, agentB, 404],
      [adminB, agentA, 404],
      [viewerA, agentB, 404],
      [adminA, customerA, 200],
      [adminA, customerB, 404],
      [adminB, customerA, 404],
      [viewerA, customerA, 200],
      [viewerA, customerB, 404],
      [aliceA, sessionAlice, 200],
      [bobA, sessionAlice, 404],
      [eveA, sessionEveA, 200],
      // The same sub in another tenant is another customer.
      [eveB, sessionEveA, 404],
      [eveA, sessionEveB, 404],
      [aliceA, sessionDave, 404],
      [daveNoTenant, sessionDave, 200],
      [daveNoTenant, sessionAlice, 404],
      [adminA, sessionAlice, 200],
      [adminB, sessionAlice, 404],
      [root, sessionEveB, 200],
    ];
    for (const [c, r, status] of cases) {
      const res = await h.http().get(`/${r.kind}/${r.id}`).set(c.auth);
      expect({ who: c.name, record: r.kind, status: res.status }).toEqual({ who: c.name, record: r.kind, status });
      expectScoped(res, c, r);
    }
    // The events of another customer's session are hidden too (the same read by id).
    const events = await h.http().get(`/sessions/${sessionAlice.id}/events`).set(bobA.auth);
    expect(events.status).toBe(404);
    expect(events.body.code).toBe('not_found');
  });

  it('answers malformed, SQL-looking, NUL, uppercase and empty ids with a 4xx and a code, never a 500 or a foreign record', async () => {
    const { adminA, aliceA } = callers;
    const { agentA, agentB, customerA, customerB, sessionAlice, sessionBob } = records;
    const own: Record<string, Made> = { agents: agentA, customers: customerA, sessions: sessionAlice };
    const foreign: Record<string, Made> = { agents: agentB, customers: customerB, sessions: sessionBob };
    const enc = encodeURIComponent;
    const wrong: Array<{ kind: string; by: string; id: string; status: number }> = [];
    for (const [kind, c] of [
      ['agents', adminA],
      ['customers', adminA],
      ['sessions', adminA],
      ['sessions', aliceA],
    ] as const) {
      const mine = own[kind].id;
      const theirs = foreign[kind].id;
      const ids = [
        'not-a-uuid',
        '1',
        '-1',
        '0',
        '%20',
        '%00',
        '%00%00%00',
        `${mine}%00`,
        `%00${mine}`,
        `${theirs}%00`,
        `${theirs.slice(0, 18)}%00${theirs.slice(19)}`,
        enc("' OR '1'='1"),
        enc(`${theirs}' OR '1'='1`),
        enc(`${mine}' OR 1=1 --`),
        enc(`' UNION SELECT * FROM ${kind} --`),
        enc('1; DROP TABLE agents; --'),
        enc('" OR ""="'),
        enc(':scopeTenant'),
        enc('?'),
        enc('\u0000id'),
        enc(`${mine} `),
        enc(` ${theirs}`),
        `{${theirs}}`,
        theirs.replace(/-/g, ''),
        theirs.toUpperCase(),
        '00000000-0000-0000-0000-000000000000',
        'ffffffff-ffff-ffff-ffff-ffffffffffff',
        'a'.repeat(5000),
        '%E0%A4%A',
        enc('１２３'),
      ];
      for (const id of ids) {
        const res = await h.http().get(`/${kind}/${id}`).set(c.auth);
        const seen = { kind, by: c.name, id: id.slice(0, 60), status: res.status };
        if (![400, 404, 414].includes(res.status)) wrong.push(seen);
        expect(res.body).toMatchObject({
          statusCode: res.status,
          code: expect.any(String),
          message: expect.any(String),
        });
      }
      // An uppercase form of the caller's own id: the same record or not found, never anyone else's.
      const upper = await h.http().get(`/${kind}/${mine.toUpperCase()}`).set(c.auth);
      expect([200, 404]).toContain(upper.status);
      if (upper.status === 200) expect(upper.body.id.toLowerCase()).toBe(mine);
      else expect(upper.body.code).toBe('not_found');
      // An empty id: the list route (scoped to the caller) or a 4xx with a code.
      const empty = await h.http().get(`/${kind}/`).set(c.auth);
      if (empty.status === 200) {
        for (const item of empty.body.items as Array<{ tenantId: string; ownerId: string }>) {
          expect(item.tenantId).toBe(c.tenant);
          if (c.own) expect(item.ownerId).toBe(c.sub);
        }
      } else {
        expect(empty.status).toBeGreaterThanOrEqual(400);
        expect(empty.status).toBeLessThan(500);
        expect(typeof empty.body.code).toBe('string');
      }
    }
    expect(wrong).toEqual([]);
  });

  it('answers a 100 KB id and NUL bytes in the path with a 4xx and a code', async () => {
    const { adminA } = callers;
    const token = adminA.auth.Authorization;
    for (const kind of ['agents', 'customers', 'sessions']) {
      const huge = await get(port, `/${kind}/${'a'.repeat(100 * 1024)}`, { Authorization: token }, true).catch(
        (err: Error) => err,
      );
      // Node refuses the request line past its header limit: 431 in the error shape (the socket may be reset first).
      if (huge instanceof Error) {
        expect((huge as Error & { code?: string }).code).toMatch(/^(ECONNRESET|EPIPE)$/);
      } else {
        expect([400, 414, 431]).toContain(huge.status);
        expect(typeof huge.body.code).toBe('string');
      }
      const hugeRaw = await rawRequest(
        port,
        `GET /${kind}/${'b'.repeat(100 * 1024)} HTTP/1.1\r\nHost: x\r\nAuthorization: ${token}\r\nConnection: close\r\n\r\n`,
      );
      expect([400, 414, 431]).toContain(hugeRaw.status);
      expect(typeof hugeRaw.body.code).toBe('string');
      for (const path of [
        `/${kind}/${records.agentA.id}\u0000`,
        `/${kind}/\u0000`,
        `/${kind}/${records.agentB.id.slice(0, 10)}\u0000${records.agentB.id.slice(11)}`,
      ]) {
        const res = await rawRequest(
          port,
          `GET ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: ${token}\r\nConnection: close\r\n\r\n`,
        );
        expect(res.status).toBe(400);
        expect(res.body).toEqual({ statusCode: 400, code: 'validation_failed', message: expect.any(String) });
      }
    }
  });

  it('answers 404 for a record read after it was deleted, in its tenant and in any other', async () => {
    const { adminA, adminB, aliceA } = callers;
    const approver = {
      Authorization: `Bearer ${signToken({ roles: ['approver'], scope: 'approvals:write', tenant_id: 'tenant-a' })}`,
    };
    const customer = await h.http().post('/customers').set(adminA.auth).send({ name: 'Soon gone' });
    expect(customer.status).toBe(201);
    expect((await h.http().get(`/customers/${customer.body.id}`).set(adminA.auth)).status).toBe(200);
    expect((await h.http().delete(`/customers/${customer.body.id}`).set(adminA.auth)).status).toBe(204);

    const session = await h.http().post('/sessions').set(aliceA.auth).send({ agentId: records.agentA.id });
    expect(session.status).toBe(201);
    expect((await h.http().get(`/sessions/${session.body.id}`).set(aliceA.auth)).status).toBe(200);
    expect((await h.http().delete(`/sessions/${session.body.id}`).set(adminA.auth)).status).toBe(204);

    // Deleting an agent needs an approval (shipped policy).
    const agent = await h.http().post('/agents').set(adminA.auth).send({ name: 'soon gone' });
    expect(agent.status).toBe(201);
    const asked = await h.http().delete(`/agents/${agent.body.id}`).set(adminA.auth);
    expect(asked.status).toBe(403);
    expect(asked.body.code).toBe('approval_required');
    expect((await h.http().post(`/approvals/${asked.body.approvalId}/approve`).set(approver)).status).toBe(200);
    const deleted = await h
      .http()
      .delete(`/agents/${agent.body.id}`)
      .set(adminA.auth)
      .set('X-Approval-Id', asked.body.approvalId as string);
    expect(deleted.status).toBe(204);

    for (const [path, who] of [
      [`/customers/${customer.body.id}`, adminA],
      [`/customers/${customer.body.id}`, adminB],
      [`/sessions/${session.body.id}`, aliceA],
      [`/sessions/${session.body.id}`, adminA],
      [`/agents/${agent.body.id}`, adminA],
      [`/agents/${agent.body.id}`, adminB],
    ] as const) {
      const res = await h.http().get(path).set(who.auth);
      expect({ path, status: res.status }).toEqual({ path, status: 404 });
      expect(res.body.code).toBe('not_found');
    }
  });

  it('binds each of 240 concurrent reads to its own caller: mixed tenants, owners and scope shapes', async () => {
    const pairs: Array<[Caller, Made]> = [];
    for (const c of Object.values(callers))
      for (const r of Object.values(records)) if (c.reads.includes(r.kind)) pairs.push([c, r]);
    const jobs = Array.from({ length: 240 }, (_, i) => pairs[(i * 7) % pairs.length]);
    const answers = await Promise.all(jobs.map(([c, r]) => get(port, `/${r.kind}/${r.id}`, c.auth)));
    let granted = 0;
    answers.forEach((res, i) => {
      const [c, r] = jobs[i];
      expectScoped(res, c, r);
      if (res.status === 200) granted++;
    });
    // Both outcomes were exercised, with every shape of scope (none, tenant, tenant + owner, owner only).
    expect(granted).toBeGreaterThan(40);
    expect(answers.length - granted).toBeGreaterThan(40);
  }, 60_000);
});

// ---------------------------------------------------------------------------------------------------------------
// A small library app: anonymous callers behind a trusted proxy, rate-limit headers, Express next()
// ---------------------------------------------------------------------------------------------------------------

@Controller('open')
class OpenController {
  @Get()
  @Public()
  who(@CurrentPrincipal() principal: Principal) {
    return { id: principal.id, type: principal.type };
  }
}

@Controller('reports')
class ScopedReportsController {
  @Get()
  @RequireOperation('report.read')
  @RequireScopes('reports:read')
  list(@CurrentPrincipal() principal: Principal) {
    return { id: principal.id };
  }
}

@Controller('chain')
class ChainController {
  @Get('open-then-scoped')
  @Public()
  openFirst(@Next() next: () => void) {
    next();
  }

  @Get('open-then-scoped')
  @RequireOperation('report.read')
  @RequireScopes('reports:write')
  scopedAfter(@CurrentPrincipal() principal: Principal) {
    return { reached: 'scoped', id: principal.id };
  }
}

const bearer = (sub: string, scope: string) => ({
  Authorization: `Bearer ${jwt.sign({ sub, roles: ['reader'], scope }, SECRET, { algorithm: 'HS256', expiresIn: 600 })}`,
});

async function bootLibraryApp(
  adapter: Adapter,
  options: Partial<PolicyModuleOptions>,
  controllers: Type<unknown>[] = [OpenController, ScopedReportsController],
): Promise<INestApplication> {
  const ref = await Test.createTestingModule({
    imports: [PolicyTestAppModule.with(PolicyModule.forRoot({ ...BASE_OPTIONS, ...options }), [], controllers)],
  }).compile();
  const app: INestApplication =
    adapter === 'fastify'
      ? ref.createNestApplication(new FastifyAdapter(), { logger: false })
      : ref.createNestApplication({ logger: false });
  await app.listen(0, '127.0.0.1');
  return app;
}

/**
 * A GET of `/open` handed to the app's server in the process, as from a trusted proxy on 127.0.0.1, without Node's HTTP
 * parser: header values the parser would refuse (NUL) reach the guards.
 */
function injectOpen(app: INestApplication, forwardedFor: string): Promise<Answer> {
  const socket = new Socket();
  Object.defineProperty(socket, 'remoteAddress', { value: '127.0.0.1' });
  const req = new IncomingMessage(socket);
  req.method = 'GET';
  req.url = '/open';
  req.headers = { host: 'localhost', 'x-forwarded-for': forwardedFor };
  req.push(null);
  const res = new ServerResponse(req);
  return new Promise((resolve) => {
    res.end = ((chunk?: unknown) => {
      const text = Buffer.isBuffer(chunk) ? chunk.toString('utf8') : typeof chunk === 'string' ? chunk : '';
      resolve({
        status: res.statusCode,
        headers: res.getHeaders() as IncomingHttpHeaders,
        rawHeaders: [],
        text,
        body: parse(text),
      });
      return res;
    }) as ServerResponse['end'];
    (app.getHttpServer() as Server).emit('request', req, res);
  });
}

const xff = (value: string) => ({ 'X-Forwarded-For': value });

describe.each(ADAPTERS)('review: anonymous callers behind a trusted proxy (%s)', (adapter) => {
  let app: INestApplication;
  let port: number;

  beforeAll(async () => {
    app = await bootLibraryApp(adapter, {
      trustProxy: 'loopback',
      rateLimits: { default: { limit: 1000, ttl: 600 }, anonymous: { limit: 3, ttl: 600 } },
    });
    port = portOf(app);
  });
  afterAll(async () => {
    await app?.close();
  });

  const statuses = async (values: string[]) => {
    const out: number[] = [];
    for (const value of values) {
      const res = await get(port, '/open', xff(value));
      expect(res.status).not.toBe(500);
      if (res.status === 429) expect(res.body.code).toBe('rate_limited');
      out.push(res.status);
    }
    return out;
  };

  it('counts each forwarded IPv4 client apart, and the same IPv4 in its mapped forms together', async () => {
    expect(await statuses(['203.0.113.1', '203.0.113.1', '203.0.113.1', '203.0.113.1'])).toEqual([200, 200, 200, 429]);
    const first = await get(port, '/open', xff('203.0.113.2'));
    expect(first.body).toEqual({ id: 'ip:203.0.113.2', type: 'anonymous' });
    expect(await statuses(['::ffff:203.0.113.2', '::FFFF:203.0.113.2', '203.0.113.2'])).toEqual([200, 200, 429]);
    // The nearest entry is the client a trusted proxy names: entries before it change nothing.
    expect(await statuses(['198.51.100.9, 203.0.113.1', 'junk, 203.0.113.1'])).toEqual([429, 429]);
  });

  it('counts IPv6 clients by /64: rotating addresses inside one /64 does not escape the limit', async () => {
    const first = await get(port, '/open', xff('2001:db8:1:2::1'));
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ id: 'ip:2001:db8:1:2::/64', type: 'anonymous' });
    const rotated = await statuses([
      '2001:0db8:0001:0002:0000:0000:0000:0002',
      '2001:DB8:1:2:FFFF::3',
      '2001:db8:1:2:abcd:ef01:2345:6789',
      '2001:db8:1:2::4',
      '203.0.113.60, 2001:db8:1:2:1:2:3:4',
    ]);
    expect(rotated).toEqual([200, 200, 429, 429, 429]);
    // Another /64 is another client.
    const other = await get(port, '/open', xff('2001:db8:1:3::1'));
    expect(other.status).toBe(200);
    expect(other.body.id).toBe('ip:2001:db8:1:3::/64');
    expect(await statuses(['2001:db8:1:3::2', '2001:db8:1:3::3', '2001:db8:1:3::4'])).toEqual([200, 200, 429]);
  });

  it('counts garbage, empty, overlong and NUL-laden X-Forwarded-For against the proxy itself, without a 500', async () => {
    const longList = Array.from({ length: 850 }, (_, i) => `192.0.${i >> 8}.${i & 255}`).join(', ');
    expect(longList.length).toBeGreaterThan(10 * 1024);
    // A 10 KB list of real addresses: the nearest entry is the client.
    const listed = await get(port, '/open', xff(longList));
    expect(listed.status).toBe(200);
    expect(listed.body.id).toBe('ip:192.0.3.81');
    const garbage = [
      'junk',
      '',
      ' ',
      ',',
      ', , ,',
      '1.2.3.4:80',
      '[2001:db8::1]',
      '2001:db8::1/64',
      '203.0.113.5, unknown',
      'x'.repeat(10 * 1024),
      `${'1'.repeat(10 * 1024)}`,
      '999.1.1.1',
      '::ffff:999.1.1.1',
    ];
    const answers = [];
    for (const value of garbage) answers.push(await get(port, '/open', xff(value)));
    for (const res of answers) expect([200, 429]).toContain(res.status);
    // Every one of them is the proxy's own address: one bucket, three calls.
    expect(answers.filter((r) => r.status === 200)).toHaveLength(3);
    for (const res of answers.filter((r) => r.status === 200)) expect(res.body.id).toBe('ip:127.0.0.1');
    for (const res of answers.filter((r) => r.status === 429)) expect(res.body.code).toBe('rate_limited');

    // NUL on the wire: Node's parser refuses the request (400), nothing reaches a guard.
    for (const value of ['203.0.113.70\u0000', '\u0000', '203.0.113.71\u0000, 203.0.113.72']) {
      const res = await rawRequest(
        port,
        `GET /open HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: ${value}\r\nConnection: close\r\n\r\n`,
      );
      expect(res.status).toBe(400);
    }
    // NUL in the process (no parser): the entry is not an address, so it is the proxy's again, and still limited.
    const clean = await injectOpen(app, '203.0.113.90');
    expect(clean.status).toBe(200);
    expect(clean.body).toEqual({ id: 'ip:203.0.113.90', type: 'anonymous' });
    for (const value of ['203.0.113.80\u0000', '\u0000'.repeat(64), `203.0.113.81, 2001:db8:9::1\u0000`]) {
      const res = await injectOpen(app, value);
      expect(res.status).toBe(429);
      expect(res.body.code).toBe('rate_limited');
    }
  });

  it('keeps counting anonymous calls after more than 10,000 distinct IPs have cleared the principal cache', async () => {
    expect(await statuses(['198.51.100.200', '198.51.100.200', '198.51.100.200', '198.51.100.200'])).toEqual([
      200, 200, 200, 429,
    ]);
    expect(await statuses(['2001:db8:ff:1::1', '2001:db8:ff:1::2', '2001:db8:ff:1::3', '2001:db8:ff:1::4'])).toEqual([
      200, 200, 200, 429,
    ]);
    const spread = 10_050;
    const ipOf = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    const first = await inPool(spread, 16, (i) => get(port, '/open', xff(ipOf(i))));
    expect(first.filter((r) => r.status !== 200)).toEqual([]);
    expect(first[spread - 1].body.id).toBe(`ip:${ipOf(spread - 1)}`);
    // The callers limited before the clear are still limited, whatever address of their /64 they use now.
    expect(await statuses(['198.51.100.200', '2001:db8:ff:1::5', '2001:db8:ff:1:ffff::6'])).toEqual([429, 429, 429]);
    // A caller seen once before the clear has two calls left, not three.
    expect(await statuses([ipOf(0), ipOf(0), ipOf(0)])).toEqual([200, 200, 429]);
    const after = await get(port, '/open', xff('2001:db8:ff:2::1'));
    expect(after.body).toEqual({ id: 'ip:2001:db8:ff:2::/64', type: 'anonymous' });
  }, 120_000);
});

describe.each(ADAPTERS)('review: rate-limit headers (%s)', (adapter) => {
  describe.each([
    ['x-ratelimit', true, false],
    ['ietf', false, true],
    ['both', true, true],
  ] as const)('rateLimits.headers: %s', (style, legacy, ietf) => {
    let app: INestApplication;
    let port: number;
    beforeAll(async () => {
      app = await bootLibraryApp(adapter, {
        rateLimits: { headers: style, default: { limit: 2, ttl: 60 }, anonymous: { limit: 2, ttl: 30 } },
      });
      port = portOf(app);
    });
    afterAll(async () => {
      await app?.close();
    });

    const expectHeaders = (res: Answer, bucket: string, limit: number, remaining: number, window: number) => {
      if (legacy) {
        expect(res.headers['x-ratelimit-limit']).toBe(String(limit));
        expect(res.headers['x-ratelimit-remaining']).toBe(String(remaining));
        expect(Number(res.headers['x-ratelimit-reset'])).toBeGreaterThanOrEqual(0);
        expect(Number(res.headers['x-ratelimit-reset'])).toBeLessThanOrEqual(window);
      } else {
        expect(res.headers['x-ratelimit-limit']).toBeUndefined();
        expect(res.headers['x-ratelimit-remaining']).toBeUndefined();
        expect(res.headers['x-ratelimit-reset']).toBeUndefined();
      }
      if (ietf) {
        expect(res.headers['ratelimit-policy']).toBe(`"${bucket}";q=${limit};w=${window}`);
        expect(res.headers['ratelimit']).toMatch(new RegExp(`^"${bucket}";r=${remaining};t=\\d+$`));
        const t = Number(/;t=(\d+)$/.exec(res.headers['ratelimit'] as string)?.[1]);
        expect(t).toBeLessThanOrEqual(window);
      } else {
        expect(res.headers['ratelimit-policy']).toBeUndefined();
        expect(res.headers['ratelimit']).toBeUndefined();
      }
    };

    it('names the anonymous bucket on a public route, and adds Retry-After on 429 only', async () => {
      const answers = [];
      for (let i = 0; i < 3; i++) answers.push(await get(port, '/open'));
      expect(answers.map((r) => r.status)).toEqual([200, 200, 429]);
      expectHeaders(answers[0], 'anonymous', 2, 1, 30);
      expectHeaders(answers[1], 'anonymous', 2, 0, 30);
      expect(answers[0].headers['retry-after']).toBeUndefined();
      expect(answers[1].headers['retry-after']).toBeUndefined();
      expect(answers[2].body).toEqual({ statusCode: 429, code: 'rate_limited', message: expect.any(String) });
      expectHeaders(answers[2], 'anonymous', 2, 0, 30);
      const retry = Number(answers[2].headers['retry-after']);
      expect(Number.isInteger(retry)).toBe(true);
      expect(retry).toBeGreaterThanOrEqual(1);
      expect(retry).toBeLessThanOrEqual(30);
    });

    it("names the principal's default bucket on a protected route, and still sets them on 403", async () => {
      const auth = bearer(`hdr-${randomUUID()}`, 'reports:read');
      const ok = await get(port, '/reports', auth);
      expect(ok.status).toBe(200);
      expectHeaders(ok, 'default', 2, 1, 60);
      const denied = await get(port, '/reports', bearer(`hdr-${randomUUID()}`, 'other'));
      expect(denied.status).toBe(403);
      expect(denied.body.code).toBe('insufficient_scope');
      expectHeaders(denied, 'default', 2, 1, 60);
      await get(port, '/reports', auth);
      const refused = await get(port, '/reports', auth);
      expect(refused.status).toBe(429);
      expect(refused.body.code).toBe('rate_limited');
      expectHeaders(refused, 'default', 2, 0, 60);
      expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    });
  });

  describe('mode: shadow', () => {
    let app: INestApplication;
    let port: number;
    beforeAll(async () => {
      app = await bootLibraryApp(adapter, {
        rateLimits: { mode: 'shadow', headers: 'both', anonymous: { limit: 2, ttl: 30 } },
      });
      port = portOf(app);
    });
    afterAll(async () => {
      await app?.close();
    });

    it('lets calls past the limit through with the headers of an allowed call (no Retry-After)', async () => {
      const answers = [];
      for (let i = 0; i < 4; i++) answers.push(await get(port, '/open'));
      expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 200]);
      expect(answers.map((r) => r.headers['x-ratelimit-remaining'])).toEqual(['1', '0', '0', '0']);
      expect(answers.map((r) => r.headers['x-ratelimit-limit'])).toEqual(['2', '2', '2', '2']);
      expect(answers.map((r) => r.headers['ratelimit-policy'])).toEqual(Array(4).fill('"anonymous";q=2;w=30'));
      for (const res of answers.slice(2)) {
        expect(res.headers['retry-after']).toBeUndefined();
        expect(res.headers['ratelimit']).toMatch(/^"anonymous";r=0;t=\d+$/);
        expect(res.body).toEqual({ id: 'ip:127.0.0.1', type: 'anonymous' });
      }
    });
  });
});

describe('review: a protected route reached after a public Express handler calls next()', () => {
  let app: INestApplication;
  let port: number;

  beforeAll(async () => {
    app = await bootLibraryApp(
      'express',
      { rateLimits: { default: { limit: 1000, ttl: 60 }, anonymous: { limit: 1000, ttl: 60 } } },
      [ChainController],
    );
    port = portOf(app);
  });
  afterAll(async () => {
    await app?.close();
  });

  it('asks for credentials (401) when none are sent', async () => {
    const res = await get(port, '/chain/open-then-scoped');
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ statusCode: 401, code: 'unauthenticated', message: expect.any(String) });
    expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(JSON.stringify(res.body)).not.toContain('scoped');
  });

  it('refuses a bad token (401 invalid_token) the public route never looked at', async () => {
    const res = await get(port, '/chain/open-then-scoped', { Authorization: 'Bearer not-a-token' });
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('invalid_token');
  });

  it("answers 403 insufficient_scope for a token lacking the second route's scope", async () => {
    const res = await get(port, '/chain/open-then-scoped', bearer('reader-1', 'reports:read'));
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('insufficient_scope');
    expect(res.headers['www-authenticate']).toBe('Bearer error="insufficient_scope", scope="reports:write"');
  });

  it('lets a token with the scope through, as itself rather than the anonymous principal', async () => {
    const res = await get(port, '/chain/open-then-scoped', bearer('writer-1', 'reports:write'));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ reached: 'scoped', id: 'writer-1' });
  });
});

afterAll(() => keepAlive.destroy());
