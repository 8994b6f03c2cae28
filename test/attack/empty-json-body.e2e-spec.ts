/**
 * A request that says `Content-Type: application/json` but sends no body is treated as having no body on both
 * adapters (Express's body-parser skips it; Fastify's JSON parser refused it with 400), so a body-less POST such as
 * `POST /runs/:id/cancel` from a client that always sets the header answers alike.
 */
import { ADMIN, signToken, startAgentApi, type Harness } from '../support/agent-api.harness';

describe.each(['express', 'fastify'] as const)('an empty JSON body (%s)', (adapter) => {
  let h: Harness;
  const admin = signToken({ ...ADMIN, sub: 'empty-body-admin', tenant_id: 't-empty-body' });
  const auth = { Authorization: `Bearer ${admin}` };

  beforeAll(async () => {
    h = await startAgentApi({ adapter });
  }, 60_000);
  afterAll(() => h?.close());

  it('is no body: a body-less POST answers as without the header, a POST that needs a body is still 400', async () => {
    const agent = await h.http().post('/agents').set(auth).send({ name: 'eb' }).expect(201);
    const session = await h.http().post('/sessions').set(auth).send({ agentId: agent.body.id }).expect(201);
    const run = await h
      .http()
      .post(`/sessions/${session.body.id}/runs`)
      .set(auth)
      .send({ steps: [{ message: 'hi' }] })
      .expect(202);

    const cancel = await h
      .http()
      .post(`/runs/${run.body.id}/cancel`)
      .set(auth)
      .set('Content-Type', 'application/json')
      .set('Content-Length', '0');
    expect(cancel.status).toBe(200);
    expect(cancel.body.id).toBe(run.body.id);

    const event = await h
      .http()
      .post(`/sessions/${session.body.id}/events`)
      .set(auth)
      .set('Content-Type', 'application/json')
      .set('Content-Length', '0');
    expect(event.status).toBe(400);
    expect(event.body.code).toBe('validation_failed');
  });
});
