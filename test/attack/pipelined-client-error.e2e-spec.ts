/**
 * A malformed request pipelined behind a valid one on the same connection: Node's parser refuses the second while the
 * first is still being handled (its response not started). The first request's answer must reach the client first,
 * then the refusal, each logged once; the refusal must never be sent in place of the first answer (a client would
 * take it for the first request's, e.g. retry a POST that did create its record).
 */
import { connect } from 'node:net';
import { ADMIN, signToken, startAgentApi, type Harness } from '../support/agent-api.harness';
import { waitFor } from '../support/wait-for';

/** Writes `data` in one piece and reads until the server closes (or `waitMs`). */
function exchange(port: number, data: string, waitMs = 3_000): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(Buffer.from(data, 'latin1')));
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(), waitMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('latin1'));
    });
  });
}

/** The status lines of the answers in `text`, in order. */
const statuses = (text: string) => [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));

describe.each(['express', 'fastify'] as const)('a malformed request pipelined behind a valid one (%s)', (adapter) => {
  let h: Harness;
  let port: number;
  const token = signToken({ ...ADMIN, sub: `pipelined-${adapter}` }, { expiresIn: '1h' });

  beforeAll(async () => {
    h = await startAgentApi({ adapter, jsonLogs: true });
    port = Number(new URL(h.url).port);
  }, 60_000);
  afterAll(() => h?.close());

  const requestLines = () => h.logs().filter((line) => line.msg === 'request');

  it.each([
    ['a bad method token', 'BAD\u0001 / HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['a NUL in a header', 'GET /agents HTTP/1.1\r\nHost: x\r\nX-Note: a\u0000b\r\n\r\n'],
    [
      'a bad chunk in its own body',
      'POST /agents HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n' +
        '5\r\n{"nam\r\nZZ\r\n',
    ],
  ])('answers the first request, then refuses %s, each logged once', async (_what, malformed) => {
    const name = `pipelined-${Math.random().toString(36).slice(2)}`;
    const body = JSON.stringify({ name });
    const before = requestLines().length;
    const text = await exchange(
      port,
      `POST /agents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}` +
        malformed,
    );
    // The agent was created: the client must be told so, not answered 400 in its place.
    const list = await fetch(`${h.url}/agents?limit=100`, { headers: { Authorization: `Bearer ${token}` } });
    const created = JSON.stringify(await list.json()).includes(name);
    expect(created).toBe(true);
    expect(statuses(text)).toEqual([201, 400]);
    expect(text).toContain(name);

    await waitFor(() => requestLines().length >= before + 2, { what: 'two request log lines' });
    await new Promise((resolve) => setTimeout(resolve, 400));
    const lines = requestLines()
      .slice(before)
      .map((line) => [line.method, line.route, line.status])
      // The listing above is logged too.
      .filter(([method]) => method !== 'GET');
    expect(lines.sort()).toEqual(
      [
        ['POST', '/agents', 201],
        [null, null, 400],
      ].sort(),
    );
  });

  it('lets a streamed reply under way finish, then refuses what was pipelined behind it, each logged once', async () => {
    const auth = { Authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const agent = (await (
      await fetch(`${h.url}/agents`, { method: 'POST', headers: auth, body: '{"name":"sse"}' })
    ).json()) as { id: string };
    const session = (await (
      await fetch(`${h.url}/sessions`, { method: 'POST', headers: auth, body: JSON.stringify({ agentId: agent.id }) })
    ).json()) as { id: string };
    const body = JSON.stringify({ message: 'word '.repeat(200) });
    const before = requestLines().length;
    const text = await new Promise<string>((resolve) => {
      const socket = connect(port, '127.0.0.1', () =>
        socket.write(
          `POST /sessions/${session.id}/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n` +
            `Accept: text/event-stream\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
        ),
      );
      const chunks: Buffer[] = [];
      const timer = setTimeout(() => socket.destroy(), 5_000);
      socket.on('data', (chunk: Buffer) => {
        // The stream's headers are out: the malformed request arrives while its answer is under way.
        if (!chunks.length) socket.write('BAD\u0001 / HTTP/1.1\r\nHost: x\r\n\r\n');
        chunks.push(chunk);
      });
      socket.on('error', () => undefined);
      socket.on('close', () => {
        clearTimeout(timer);
        resolve(Buffer.concat(chunks).toString('latin1'));
      });
    });
    expect(statuses(text)).toEqual([201, 400]);
    expect(text).toContain('event: done');
    await waitFor(() => requestLines().length >= before + 2, { what: 'two request log lines' });
    await new Promise((resolve) => setTimeout(resolve, 400));
    const lines = requestLines()
      .slice(before)
      .map((line) => [line.method, line.route, line.status])
      // The agent and session created above are logged too (lines go out in batches).
      .filter(([, route]) => route !== '/agents' && route !== '/sessions');
    expect(lines.sort()).toEqual(
      [
        ['POST', '/sessions/:id/events', 201],
        [null, null, 400],
      ].sort(),
    );
  });
});
