/**
 * Bad input is a 4xx with `{ statusCode, code, message }`, never a 5xx, on every agent-api route, on Express and
 * Fastify, on SQLite and PostgreSQL: bodies nested thousands deep, cursors that are not positions (Infinity,
 * floats, 1e20, NUL), dates that parse to nothing (ISO week dates), NUL characters anywhere PostgreSQL cannot store
 * them, wrong types and nesting where strings are expected; and the HTTP layer answers alike on both adapters
 * (413 readable under Node's fetch, non-JSON bodies refused, bad JSON and oversized headers in the error shape).
 */
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { ADMIN, signToken, startAgentApi, type DatabaseKind, type Harness } from '../support/harness-exports';
import { itWith } from '../support/services';

const matrix: Array<['express' | 'fastify', DatabaseKind]> = [
  ['express', 'sqlite'],
  ['fastify', 'sqlite'],
  ['express', 'postgres'],
  ['fastify', 'postgres'],
];

const ERROR_SHAPE = { statusCode: expect.any(Number), code: expect.any(String), message: expect.any(String) };
const cursorOf = (value: unknown[] | string): string =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const nested = (depth: number, leaf = '"x"'): string => '{"name":'.repeat(depth) + leaf + '}'.repeat(depth);
const nestedArrays = (depth: number): string => `{"name":${'['.repeat(depth)}${']'.repeat(depth)}}`;

interface Sent {
  status: number;
  body: Record<string, unknown>;
}

describe.each(matrix)('bad input never answers 5xx (%s, %s)', (adapter, database) => {
  let h: Harness;
  const it = database === 'postgres' ? itWith('postgres') : itWith();
  const auth = { Authorization: `Bearer ${signToken({ sub: 'bad-input-admin', ...ADMIN }, { expiresIn: '1h' })}` };
  let agentId: string;
  let sessionId: string;

  /** A request with Node's fetch; a body given as a string is sent as is. */
  async function send(
    method: string,
    path: string,
    body?: string | object,
    headers: Record<string, string> = {},
  ): Promise<Sent> {
    const res = await fetch(`${h.url}${path}`, {
      method,
      headers: { ...auth, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: Record<string, unknown>;
    try {
      parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      parsed = { unparsable: text.slice(0, 200) };
    }
    return { status: res.status, body: parsed };
  }

  function expectRefused(res: Sent, status = 400, code = 'validation_failed'): void {
    expect({ status: res.status, body: res.body }).toEqual({
      status,
      body: expect.objectContaining({ ...ERROR_SHAPE, statusCode: status, code }),
    });
  }

  beforeAll(async () => {
    h = await startAgentApi({ adapter, database });
    agentId = String((await send('POST', '/agents', { name: 'bad input' })).body.id);
    sessionId = String((await send('POST', '/sessions', { agentId })).body.id);
  }, 60_000);
  afterAll(async () => {
    if (h) await h.close();
  });

  describe('deeply nested JSON', () => {
    const routes: Array<[string, () => string]> = [
      ['POST /agents', () => '/agents'],
      ['POST /sessions/:id/events', () => `/sessions/${sessionId}/events`],
      ['POST /api-keys', () => '/api-keys'],
      ['POST /revocations', () => '/revocations'],
    ];
    it.each(routes)('refuses 10,000- and 30,000-deep objects and arrays on %s', async (_name, path) => {
      for (const body of [nested(10_000), nested(30_000), nestedArrays(10_000), nestedArrays(30_000), nested(100)]) {
        expectRefused(await send('POST', path(), body));
      }
      expectRefused(await send('PATCH', `/agents/${agentId}`, nested(10_000)));
    });

    it('still accepts an ordinary body afterwards', async () => {
      expect((await send('POST', '/agents', { name: 'still fine' })).status).toBe(201);
    });
  });

  describe('cursors', () => {
    const bad: Array<[string, string]> = [
      ['Infinity', cursorOf('[1e400,"x"]')],
      ['-Infinity', cursorOf('[-1e400,"x"]')],
      ['a float', cursorOf([1.5, 'x'])],
      ['1e20', cursorOf([1e20, 'x'])],
      ['a negative time', cursorOf([-1, 'x'])],
      ['a NUL in the id', cursorOf([1, 'x\u0000y'])],
      ['an object id', cursorOf([1, { a: 1 }])],
      ['a nested array', cursorOf([[1], 'x'])],
      ['a string time', cursorOf(['1', 'x'])],
      ['too long an id', cursorOf([1, 'x'.repeat(150)])],
      ['not JSON', cursorOf('nope')],
    ];
    const lists = [
      '/agents',
      '/customers',
      '/sessions',
      `/sessions/{session}/events`,
      '/approvals',
      '/audit',
      '/api-keys',
    ];
    it.each(bad)('refuses a cursor holding %s on every list', async (_name, cursor) => {
      for (const list of lists) {
        const path = list.replace('{session}', sessionId);
        const res = await send('GET', `${path}?cursor=${cursor}`);
        if (res.status === 200 && list === '/api-keys') continue; // this list is not paginated: the cursor is ignored
        expectRefused(res);
      }
    });
  });

  describe('dates', () => {
    const dates = [
      '2024-W01',
      '2024-W01-1',
      '2099-W01',
      '2024-02-30',
      '2024-13-01',
      '0000-00-00',
      '2024-01-01T25:00:00Z',
      '+275760-09-14T00:00:00.001Z',
    ];
    it.each(dates)('refuses %s as since/until and as expiresAt', async (date) => {
      expectRefused(await send('GET', `/usage?since=${encodeURIComponent(date)}`));
      expectRefused(await send('GET', `/usage?until=${encodeURIComponent(date)}`));
      expectRefused(await send('GET', `/audit?since=${encodeURIComponent(date)}`));
      expectRefused(await send('POST', '/revocations', { jti: `jti-${date}`, expiresAt: date }));
      expectRefused(
        await send('POST', '/api-keys', { name: 'k', roles: ['viewer'], scopes: ['agents:read'], expiresAt: date }),
      );
    });

    it('accepts real ISO 8601 dates', async () => {
      expect((await send('GET', '/usage?since=2024-01-01T00:00:00Z&until=2030-01-01')).status).toBe(200);
      expect((await send('GET', '/audit?since=2024-01-01T00:00:00.000Z')).status).toBe(200);
    });
  });

  describe('NUL characters and other text PostgreSQL cannot store', () => {
    const NUL = '\u0000';
    it('refuses a NUL in any text field of a body', async () => {
      const cases: Array<[string, string, object]> = [
        ['POST', '/agents', { name: `a${NUL}b` }],
        ['POST', '/agents', { name: 'ok', instructions: `x${NUL}` }],
        ['PATCH', `/agents/${agentId}`, { name: `a${NUL}` }],
        ['POST', '/customers', { name: `c${NUL}` }],
        ['POST', '/sessions', { agentId, title: `t${NUL}` }],
        ['PATCH', `/sessions/${sessionId}`, { title: `t${NUL}` }],
        ['POST', `/sessions/${sessionId}/events`, { message: `hello${NUL}world` }],
        ['POST', '/api-keys', { name: `k${NUL}`, roles: ['viewer'], scopes: ['agents:read'] }],
        ['POST', '/api-keys', { name: 'k', roles: [`viewer${NUL}`], scopes: ['agents:read'] }],
        ['POST', '/revocations', { jti: `j${NUL}` }],
        ['POST', '/agents', { [`na${NUL}me`]: 'x' }],
      ];
      for (const [method, path, body] of cases) expectRefused(await send(method, path, body));
    });

    it('refuses a token whose claims hold a NUL with 401 invalid_token, before anything is written', async () => {
      for (const claims of [
        { sub: `evil${NUL}` },
        { tenant_id: `t${NUL}` },
        { roles: ['admin', `x${NUL}`] },
        { jti: `j${NUL}` },
      ]) {
        const { jti, ...rest } = claims as { jti?: string };
        const token = signToken({ sub: 'nul-claims', ...ADMIN, ...rest }, jti ? { jwtid: jti } : {});
        for (const [method, path, body] of [
          ['POST', '/agents', { name: 'n' }],
          ['POST', '/api-keys', { name: 'k', roles: ['admin'], scopes: ['agents:read'] }],
          ['GET', '/agents', undefined],
        ] as const) {
          expectRefused(await send(method, path, body, { Authorization: `Bearer ${token}` }), 401, 'invalid_token');
        }
      }
    });

    it('refuses a NUL in a query value or a path id', async () => {
      for (const path of [
        '/audit?principalId=%00',
        '/audit?type=%00',
        '/customers?email=a%00@b.c',
        '/usage?groupBy=day%00',
        '/agents?limit=1%00',
        `/agents/${agentId}%00`,
        '/agents/%00',
        '/approvals/%00/approve',
        '/api-keys/%00',
      ]) {
        const res = await send(
          path.includes('approve') ? 'POST' : path.startsWith('/api-keys') ? 'DELETE' : 'GET',
          path,
        );
        expect(res.status).toBeGreaterThanOrEqual(400);
        expect(res.status).toBeLessThan(500);
        expect(res.body).toMatchObject(ERROR_SHAPE);
      }
    });
  });

  describe('wrong types and shapes where strings are expected', () => {
    const shapes: unknown[] = [42, true, null, [], ['x'], { a: 'x' }, [['x']], 'x'.repeat(300_000)];
    it.each(shapes.map((s) => [JSON.stringify(s).slice(0, 20), s]))(
      'refuses %s as a name, a message, a jti and a role',
      async (_label, value) => {
        expectRefused(await send('POST', '/agents', { name: value }));
        expectRefused(await send('POST', `/sessions/${sessionId}/events`, { message: value }));
        expectRefused(await send('POST', '/revocations', { jti: value }));
        expectRefused(await send('POST', '/api-keys', { name: 'k', roles: [value], scopes: ['agents:read'] }));
      },
    );

    it('refuses repeated or nested query parameters', async () => {
      for (const query of [
        'limit=1&limit=2',
        'cursor=a&cursor=b',
        'limit[a]=1',
        'cursor[]=x',
        'limit=1e400',
        'limit=0x10',
        'limit=-0',
      ]) {
        const res = await send('GET', `/agents?${query}`);
        expect(res.status === 200 || res.status === 400).toBe(true);
        if (res.status === 400) expect(res.body).toMatchObject({ ...ERROR_SHAPE, code: 'validation_failed' });
      }
      expectRefused(await send('GET', '/audit?type=access.denied&type=auth.failure'));
      expectRefused(await send('GET', '/usage?groupBy[x]=day'));
    });

    it('refuses a body that is not an object', async () => {
      for (const body of ['[]', '"text"', '42', 'null', '[{"name":"x"}]'])
        expectRefused(await send('POST', '/agents', body));
    });
  });

  describe('the HTTP layer answers alike on both adapters', () => {
    it("answers a body over the limit with a readable 413 under Node's fetch", async () => {
      for (const size of [1024 * 1024 + 10, 4 * 1024 * 1024]) {
        const res = await send('POST', '/agents', { name: 'x', instructions: 'a'.repeat(size) });
        expectRefused(res, 413, 'payload_too_large');
      }
      // The connection is still usable afterwards.
      expect((await send('POST', '/agents', { name: 'after 413' })).status).toBe(201);
    });

    it.each([
      ['application/x-www-form-urlencoded', 'name=formed'],
      ['text/plain', '{"name":"plain"}'],
      ['multipart/form-data; boundary=x', '--x\r\nContent-Disposition: form-data; name="name"\r\n\r\nm\r\n--x--\r\n'],
      ['application/xml', '<name>x</name>'],
    ])('refuses a %s body on a JSON route with 415 unsupported_media_type', async (type, body) => {
      const res = await send('POST', '/agents', body, { 'content-type': type });
      expectRefused(res, 415, 'unsupported_media_type');
    });

    it('accepts JSON with a charset', async () => {
      expect(
        (await send('POST', '/agents', '{"name":"utf8"}', { 'content-type': 'application/json; charset=utf-8' }))
          .status,
      ).toBe(201);
    });

    it('answers bad JSON with 400 validation_failed in the error shape', async () => {
      for (const body of ['{"name":', '{name:1}', '{"name":"x"}}', '\u0000'])
        expectRefused(await send('POST', '/agents', body));
    });

    it('answers a request Node cannot parse with 400 in the error shape', async () => {
      const { port } = new URL(h.url);
      for (const raw of [
        'NOT A REQUEST\r\n\r\n',
        'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n',
        'GET /\u0001 HTTP/1.1\r\n\r\n',
      ]) {
        const answer = await new Promise<string>((resolve, reject) => {
          const socket = connect(Number(port), '127.0.0.1', () => socket.write(raw));
          let text = '';
          socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
          socket.on('end', () => resolve(text));
          socket.on('error', reject);
        });
        expect(answer).toMatch(/^HTTP\/1\.1 400 /);
        expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toEqual({
          statusCode: 400,
          code: 'validation_failed',
          message: expect.any(String),
        });
      }
    });

    it('answers headers too large with 431 in the error shape', async () => {
      const { port } = new URL(h.url);
      const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = httpRequest(
          { host: '127.0.0.1', port, path: '/health', headers: { 'x-big': 'a'.repeat(64 * 1024) } },
          (res) => {
            let text = '';
            res.on('data', (chunk: Buffer) => (text += chunk.toString()));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
          },
        );
        req.on('error', reject);
        req.end();
      });
      expect(answer.status).toBe(431);
      expect(JSON.parse(answer.body)).toEqual({
        statusCode: 431,
        code: 'headers_too_large',
        message: expect.any(String),
      });
    });
  });
});
