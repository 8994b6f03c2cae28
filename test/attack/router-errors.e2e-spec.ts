/**
 * URLs the HTTP router refuses before any route sees them are answered with the house error body on both adapters
 * (Fastify's own body has `FST_ERR_*` codes and echoes the URL), and a long path parameter reaches its route on
 * both (Fastify's default limit was 100 characters: a 101-character tool name was 414, not 403 like any unknown one).
 */
import { ADMIN, signToken, startAgentApi, type Harness } from '../support/agent-api.harness';

describe.each(['express', 'fastify'] as const)('router errors (%s)', (adapter) => {
  let h: Harness;
  let sessionId: string;
  const admin = signToken({ ...ADMIN, sub: 'router-errors-admin', tenant_id: 't-router-errors' });
  const auth = { Authorization: `Bearer ${admin}` };

  beforeAll(async () => {
    h = await startAgentApi({ adapter });
    const agent = await h.http().post('/agents').set(auth).send({ name: 're' }).expect(201);
    sessionId = (await h.http().post('/sessions').set(auth).send({ agentId: agent.body.id }).expect(201)).body.id;
  }, 60_000);
  afterAll(() => h?.close());

  it('answers a malformed percent-encoding with 400 validation_failed, echoing nothing', async () => {
    const res = await h.http().post(`/sessions/${sessionId}/tools/%ZZsecret-marker`).set(auth).send({ args: {} });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ statusCode: 400, code: 'validation_failed' });
    expect(JSON.stringify(res.body)).not.toContain('secret-marker');
  });

  it.each([101, 4000])('answers a %i-character tool name like any unknown tool (403 forbidden)', async (length) => {
    const res = await h
      .http()
      .post(`/sessions/${sessionId}/tools/${'a'.repeat(length)}`)
      .set(auth)
      .send({ args: {} });
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ statusCode: 403, code: 'forbidden', message: 'Not allowed' });
  });
});
