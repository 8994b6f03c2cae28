/**
 * A tool argument marked `x-sanitize` is checked against its schema after sanitizing as well: a `subject` made only
 * of markup (`minLength: 1`) became "" and the ticket was stored with an empty subject; now it is 400
 * `validation_failed` naming the path, and no ticket row is written.
 */
import { DataSource } from 'typeorm';
import { ADMIN, signToken, startAgentApi, type Harness } from '../support/agent-api.harness';
import { TicketEntity } from '../../apps/agent-api/src/database/entities';

describe.each(['express', 'fastify'] as const)('sanitized tool arguments (%s)', (adapter) => {
  let h: Harness;
  let sessionId: string;
  let customerId: string;
  const admin = signToken({ ...ADMIN, sub: 'sanitized-args-admin', tenant_id: 't-sanitized-args' });
  const auth = { Authorization: `Bearer ${admin}` };

  beforeAll(async () => {
    h = await startAgentApi({ adapter });
    const agent = await h.http().post('/agents').set(auth).send({ name: 'sa' }).expect(201);
    customerId = (await h.http().post('/customers').set(auth).send({ name: 'Sam' }).expect(201)).body.id;
    sessionId = (await h.http().post('/sessions').set(auth).send({ agentId: agent.body.id, customerId }).expect(201))
      .body.id;
  }, 60_000);
  afterAll(() => h?.close());

  const ticket = (subject: string) =>
    h
      .http()
      .post(`/sessions/${sessionId}/tools/create_ticket`)
      .set(auth)
      .send({ args: { customer_id: customerId, subject, description: 'd', priority: 'low' } });
  const tickets = () => h.app.get(DataSource).getRepository(TicketEntity).countBy({ sessionId });

  it('refuses a subject that is empty once its markup is removed, and stores nothing', async () => {
    const before = await tickets();
    const res = await ticket('<script>alert(1)</script>');
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('validation_failed');
    expect(res.body.message).toContain('/subject');
    expect(await tickets()).toBe(before);
  });

  it('still accepts markup around text, keeping the text', async () => {
    const res = await ticket('<b>printer</b> jam<script>x</script>');
    expect(res.status).toBe(200);
    expect(res.body.result.subject).toBe('printer jam');
  });
});
