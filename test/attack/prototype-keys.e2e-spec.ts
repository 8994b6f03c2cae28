/**
 * A body key `__proto__` or `constructor` is refused with 400 `validation_failed` on both adapters, wherever it is:
 * class-transformer drops such keys silently, so without the refusal a tool's input schema
 * (`additionalProperties: false`) or a DTO's whitelist never saw them and the call went through on one adapter
 * while the other (Fastify's parser) refused it.
 */
import { ADMIN, signToken, startAgentApi, type Harness } from '../support/agent-api.harness';

describe.each(['express', 'fastify'] as const)('prototype keys in bodies (%s)', (adapter) => {
  let h: Harness;
  let sessionId: string;
  const admin = signToken({ ...ADMIN, sub: 'proto-keys-admin', tenant_id: 't-proto-keys' });
  const auth = { Authorization: `Bearer ${admin}` };

  beforeAll(async () => {
    h = await startAgentApi({ adapter });
    const agent = await h.http().post('/agents').set(auth).send({ name: 'pk' }).expect(201);
    sessionId = (await h.http().post('/sessions').set(auth).send({ agentId: agent.body.id }).expect(201)).body.id;
  }, 60_000);
  afterAll(() => h?.close());

  const post = (path: string, raw: string) =>
    h.http().post(path).set(auth).set('Content-Type', 'application/json').send(raw);

  it.each([
    ['a tool argument "constructor"', '{"args":{"query":"refund","constructor":5}}'],
    ['a tool argument "__proto__"', '{"args":{"query":"refund","__proto__":{"max_results":1}}}'],
  ])('refuses %s on POST /sessions/:id/tools/:name', async (_label, raw) => {
    const res = await post(`/sessions/${sessionId}/tools/search_kb`, raw);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ statusCode: 400, code: 'validation_failed' });
    // The same arguments in a clean body are accepted.
    await post(`/sessions/${sessionId}/tools/search_kb`, '{"args":{"query":"refund"}}').expect(200);
  });

  it('refuses them in a run step and in a record, and stores nothing', async () => {
    const run = await post(`/sessions/${sessionId}/runs`, '{"steps":[{"message":"hi","__proto__":{"x":1}}]}');
    expect(run.status).toBe(400);
    expect(run.body.code).toBe('validation_failed');
    const agent = await post('/agents', '{"name":"proto-keys-agent","constructor":{"name":"x"}}');
    expect(agent.status).toBe(400);
    expect(agent.body.code).toBe('validation_failed');
    const agents = await h.http().get('/agents?limit=100').set(auth).expect(200);
    expect(agents.body.items.map((a: { name: string }) => a.name)).not.toContain('proto-keys-agent');
  });
});
