/**
 * Requests refused below the app — by Node's HTTP parser (a NUL in a header, an unknown method, headers past the size
 * limit, bad chunking) and by the router (a malformed percent-encoding; on Fastify a path parameter past its limit) —
 * get the `{ statusCode, code, message }` answer and are observed exactly once like any other: one JSON log line
 * (route null, a generated request id, a method only when Node parsed one, nothing of what was sent) and one
 * `http_request_duration_seconds` observation (route `unmatched`). A connection reset is answered nothing and observed
 * nothing. The two adapters answer alike: a JSON body in another charset than UTF-8 is 415, `GET /%ZZ` is 400.
 */
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { connect } from 'node:net';
import { PolicyMetrics } from 'nest-agent-policy';
import { ADMIN, signToken, startAgentApi, type Harness } from '../support/agent-api.harness';
import { rawRequest } from '../support/http-client';
import { sample } from '../monitoring/prometheus-text';
import { waitFor } from '../support/wait-for';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Longer than a batch of JSON log lines waits (100 ms): a second line of the same request would be out by then. */
const SETTLE_MS = 400;
const settle = () => new Promise((resolve) => setTimeout(resolve, SETTLE_MS));

interface Refusal {
  what: string;
  /** The request as sent on the socket; `MARK` is replaced by a marker unique to the test (a method token too). */
  head: string;
  status: number;
  code: string;
  /** The method the log line and the metric show: null/`unknown` when the parser refused it before. */
  method: string | null;
}

const REFUSALS: Refusal[] = [
  {
    what: 'a NUL in a header',
    head: 'GET /agents HTTP/1.1\r\nHost: x\r\nX-Note: MARK\u0000after\r\n\r\n',
    status: 400,
    code: 'validation_failed',
    method: null,
  },
  {
    what: 'an unknown method',
    head: 'MARK /agents/MARK HTTP/1.1\r\nHost: x\r\n\r\n',
    status: 400,
    code: 'validation_failed',
    method: null,
  },
  {
    what: 'headers past the size limit',
    head: `GET /agents/MARK HTTP/1.1\r\nHost: x\r\nX-Pad: MARK${'a'.repeat(20 * 1024)}\r\n\r\n`,
    status: 431,
    code: 'headers_too_large',
    method: null,
  },
  {
    what: 'a bad chunk size',
    head:
      'POST /agents HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n' +
      'ZZ\r\n{"name":"MARK"}\r\n0\r\n\r\n',
    status: 400,
    code: 'validation_failed',
    method: null,
  },
  {
    what: 'a malformed percent-encoding in the path',
    head: 'GET /%ZZMARK HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    status: 400,
    code: 'validation_failed',
    method: 'GET',
  },
  {
    what: 'a malformed percent-encoding in a path parameter',
    head: 'GET /agents/%ZZMARK HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    status: 400,
    code: 'validation_failed',
    method: 'GET',
  },
];

describe.each(['express', 'fastify'] as const)('requests refused below the app (%s)', (adapter) => {
  let h: Harness;
  let port: number;
  const auth = { Authorization: `Bearer ${signToken({ ...ADMIN, sub: 'refused-admin' }, { expiresIn: '1h' })}` };

  beforeAll(async () => {
    h = await startAgentApi({ adapter, jsonLogs: true });
    port = Number(new URL(h.url).port);
  }, 60_000);
  afterAll(() => h?.close());

  const requestLines = () => h.logs().filter((line) => line.msg === 'request');
  const scrape = () => h.app.get(PolicyMetrics).registry.metrics();
  const durations = (text: string, labels: Record<string, string> = {}) =>
    sample(text, 'http_request_duration_seconds_count', labels);

  /** Runs `send`, waits for a new request log line and a while longer, and returns the answer and the new lines. */
  async function observed<T>(send: () => Promise<T>): Promise<{ answer: T; lines: Array<Record<string, unknown>> }> {
    const before = requestLines().length;
    const answer = await send();
    await waitFor(() => requestLines().length > before, { what: 'the request log line' });
    await settle();
    return { answer, lines: requestLines().slice(before) };
  }

  it.each(REFUSALS.map((refusal) => [refusal.what, refusal] as const))(
    'answers %s in the error shape, logged and measured once, echoing nothing',
    async (_what, refusal) => {
      const marker = `MK${randomBytes(6).toString('hex').toUpperCase()}`;
      const head = refusal.head.replace(/MARK/g, marker);
      const metricsBefore = await scrape();
      const { answer, lines } = await observed(() => rawRequest(port, head, { tolerateReset: true }));

      expect({ status: answer.status, body: answer.body }).toEqual({
        status: refusal.status,
        body: { statusCode: refusal.status, code: refusal.code, message: expect.any(String) },
      });
      expect(answer.text.toUpperCase()).not.toContain(marker);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({
        msg: 'request',
        status: refusal.status,
        route: null,
        method: refusal.method,
        principalId: null,
        operation: null,
      });
      expect(lines[0].requestId).toMatch(UUID);
      expect(JSON.stringify(h.logs()).toUpperCase()).not.toContain(marker);

      const metricsAfter = await scrape();
      const labels = { method: refusal.method ?? 'unknown', route: 'unmatched', status_code: String(refusal.status) };
      expect(durations(metricsAfter, labels) - durations(metricsBefore, labels)).toBe(1);
      expect(durations(metricsAfter) - durations(metricsBefore)).toBe(1);
      expect(metricsAfter.toUpperCase()).not.toContain(marker);
    },
  );

  if (adapter === 'fastify') {
    it('answers a path parameter past the router limit with 414 uri_too_long, logged and measured once', async () => {
      // Node's default header limit (16 KiB, the request line included) stops such a URL first (431): a server
      // given a larger one (its `maxHeaderSize`, read for each new connection) lets it reach Fastify's router.
      const server = h.app.getHttpServer() as Server & { maxHeaderSize?: number };
      const limit = server.maxHeaderSize;
      server.maxHeaderSize = 64 * 1024;
      try {
        const marker = `mk${randomBytes(6).toString('hex')}`;
        const metricsBefore = await scrape();
        const { answer, lines } = await observed(() =>
          rawRequest(
            port,
            `GET /agents/${marker}${'a'.repeat(20 * 1024)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
            {
              tolerateReset: true,
            },
          ),
        );
        expect(answer.status).toBe(414);
        expect(answer.body).toEqual({ statusCode: 414, code: 'uri_too_long', message: expect.any(String) });
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatchObject({ status: 414, route: null, method: 'GET' });
        expect(lines[0].requestId).toMatch(UUID);
        expect(JSON.stringify(h.logs())).not.toContain(marker);
        const metricsAfter = await scrape();
        const labels = { method: 'GET', route: 'unmatched', status_code: '414' };
        expect(durations(metricsAfter, labels) - durations(metricsBefore, labels)).toBe(1);
        expect(durations(metricsAfter) - durations(metricsBefore)).toBe(1);
      } finally {
        server.maxHeaderSize = limit;
      }
    });
  }

  it('answers and observes nothing for a connection reset halfway through the headers', async () => {
    const before = requestLines().length;
    const metricsBefore = await scrape();
    await new Promise<void>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.write('POST /agents HTTP/1.1\r\nHost: x\r\nX-Half: ', () => {
          setTimeout(() => {
            socket.resetAndDestroy();
            resolve();
          }, 50);
        });
      });
      socket.on('error', reject);
    });
    await settle();
    expect(requestLines().slice(before)).toEqual([]);
    expect(durations(await scrape()) - durations(metricsBefore)).toBe(0);
  });

  it('logs and measures an ordinary request once, with its route', async () => {
    const metricsBefore = await scrape();
    const { answer, lines } = await observed(() => fetch(`${h.url}/agents`, { headers: auth }));
    expect(answer.status).toBe(200);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ status: 200, route: '/agents', method: 'GET', principalId: 'refused-admin' });
    const metricsAfter = await scrape();
    const labels = { method: 'GET', route: '/agents', status_code: '200' };
    expect(durations(metricsAfter, labels) - durations(metricsBefore, labels)).toBe(1);
    expect(durations(metricsAfter) - durations(metricsBefore)).toBe(1);
  });

  describe('JSON bodies in another charset than UTF-8', () => {
    const post = (type: string, body: Buffer) =>
      fetch(`${h.url}/agents`, { method: 'POST', headers: { ...auth, 'content-type': type }, body });

    it.each(['utf-16', 'UTF-16LE', 'iso-8859-1', '"utf-32"'])(
      'refuses charset=%s with 415 unsupported_media_type, small or past the size limit',
      async (charset) => {
        const encoding = /16/.test(charset) ? 'utf16le' : 'latin1';
        for (const name of ['x', 'a'.repeat(2 * 1024 * 1024)]) {
          const res = await post(
            `application/json; charset=${charset}`,
            Buffer.from(JSON.stringify({ name }), encoding),
          );
          expect({ charset, size: name.length, status: res.status }).toEqual({
            charset,
            size: name.length,
            status: 415,
          });
          expect(await res.json()).toEqual({
            statusCode: 415,
            code: 'unsupported_media_type',
            message: expect.any(String),
          });
        }
      },
    );

    it.each(['utf-8', 'UTF-8', '"utf-8"'])('accepts charset=%s', async (charset) => {
      const res = await post(`application/json; charset=${charset}`, Buffer.from('{"name":"utf8 ✓"}', 'utf8'));
      expect(res.status).toBe(201);
      expect(((await res.json()) as { name: string }).name).toBe('utf8 ✓');
    });
  });
});
