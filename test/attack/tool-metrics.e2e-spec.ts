/**
 * `policy_tool_invocations_total` (SPEC §14: "tool invocations by tool and outcome") moves with the tool calls
 * made over HTTP: successes, bad arguments and refusals are counted under the tool's name, and a name that is not
 * a registered tool is counted as `unknown` (a caller-chosen name never becomes a label value).
 */
import { ADMIN, signToken, startAgentApi, type Harness } from '../support/agent-api.harness';
import { sample } from '../monitoring/prometheus-text';

describe.each(['express', 'fastify'] as const)('tool invocation metrics (%s)', (adapter) => {
  let h: Harness;
  const admin = signToken({ ...ADMIN, sub: 'tool-metrics-admin', tenant_id: 't-tool-metrics' });
  const customer = signToken({
    sub: 'tool-metrics-customer',
    roles: ['customer'],
    scope: 'sessions:write tools:write',
    tenant_id: 't-tool-metrics',
  });

  beforeAll(async () => {
    h = await startAgentApi({ adapter });
  }, 60_000);
  afterAll(() => h?.close());

  const scrape = async (): Promise<string> =>
    (await h.http().get('/metrics').set('Authorization', `Bearer ${admin}`).expect(200)).text;

  it('counts each tool call by tool and outcome', async () => {
    const agent = await h
      .http()
      .post('/agents')
      .set('Authorization', `Bearer ${admin}`)
      .send({ name: 'tm' })
      .expect(201);
    const session = await h
      .http()
      .post('/sessions')
      .set('Authorization', `Bearer ${customer}`)
      .send({ agentId: agent.body.id })
      .expect(201);
    const call = (name: string, args: unknown) =>
      h
        .http()
        .post(`/sessions/${session.body.id}/tools/${name}`)
        .set('Authorization', `Bearer ${customer}`)
        .send({ args });
    const before = await scrape();

    expect((await call('search_kb', { query: 'refund' })).status).toBe(200);
    expect((await call('search_kb', { query: 'refund' })).status).toBe(200);
    expect((await call('search_kb', { query: 5 })).body.code).toBe('validation_failed');
    expect((await call('run_js', { code: '1' })).body.code).toBe('forbidden');
    expect((await call('no_such_tool_x1', {})).body.code).toBe('forbidden');

    const after = await scrape();
    const delta = (labels: Record<string, string>) =>
      sample(after, 'policy_tool_invocations_total', labels) - sample(before, 'policy_tool_invocations_total', labels);
    expect(delta({ tool: 'search_kb', outcome: 'success' })).toBe(2);
    expect(delta({ tool: 'search_kb', outcome: 'denied' })).toBe(1);
    expect(delta({ tool: 'run_js', outcome: 'denied' })).toBe(1);
    expect(delta({ tool: 'unknown', outcome: 'denied' })).toBe(1);
    expect(after).not.toContain('no_such_tool_x1');
  });
});
