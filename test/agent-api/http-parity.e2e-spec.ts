/**
 * The HTTP layer of the built app answers alike on Express and Fastify when the server runs in a process of its
 * own (`npm run build` first), where a connection closed too early shows: a body far over the limit gets a 413 that
 * Node's fetch can read (not a reset connection), a non-JSON body a 415, both in the `{ statusCode, code, message }`
 * shape.
 */
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADMIN, signToken } from '../support/harness-exports';
import { startAgentApiProcess, type AgentApiProcess } from '../support/agent-api.process';

describe.each(['express', 'fastify'] as const)('HTTP parity of the built app (%s)', (adapter) => {
  let app: AgentApiProcess;
  const headers = {
    Authorization: `Bearer ${signToken(ADMIN, { expiresIn: '1h' })}`,
    'content-type': 'application/json',
  };
  beforeAll(async () => {
    app = await startAgentApiProcess({
      HTTP_ADAPTER: adapter,
      DATABASE_URL: `sqlite:${join(tmpdir(), `parity-${randomUUID()}.sqlite`)}`,
    });
  }, 60_000);
  afterAll(() => app?.stop());

  it.each([2, 8, 32])('answers a %i MiB body with a readable 413 payload_too_large', async (mib) => {
    const body = JSON.stringify({ name: 'x', instructions: 'a'.repeat(mib * 1024 * 1024) });
    const res = await fetch(`${app.url}/agents`, { method: 'POST', headers, body });
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({ statusCode: 413, code: 'payload_too_large', message: expect.any(String) });
  });

  it('answers JSON without an ETag or X-Powered-By, as on the other adapter', async () => {
    const res = await fetch(`${app.url}/agents`, { headers });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('etag')).toBeNull();
    expect(res.headers.get('x-powered-by')).toBeNull();
  });

  it('answers a streamed (chunked) body over the limit with a readable 413', async () => {
    const chunk = new TextEncoder().encode('a'.repeat(1024 * 1024));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent === 0) controller.enqueue(new TextEncoder().encode('{"name":"'));
        if (sent++ < 8) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const res = await fetch(`${app.url}/agents`, { method: 'POST', headers, body, duplex: 'half' });
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ statusCode: 413, code: 'payload_too_large' });
  });

  it.each([
    ['application/x-www-form-urlencoded', 'name=formed'],
    ['text/plain', '{"name":"plain"}'],
  ])('refuses a %s body with 415 unsupported_media_type, large or small', async (type, small) => {
    for (const body of [small, `${small}${'a'.repeat(4 * 1024 * 1024)}`]) {
      const res = await fetch(`${app.url}/agents`, {
        method: 'POST',
        headers: { ...headers, 'content-type': type },
        body,
      });
      expect(res.status).toBe(415);
      expect(await res.json()).toEqual({
        statusCode: 415,
        code: 'unsupported_media_type',
        message: expect.any(String),
      });
    }
  });
});
