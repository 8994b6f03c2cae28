/**
 * `GET /metrics` (SPEC §14): Prometheus text that promtool accepts, protected by `metrics.read` (scope
 * `metrics:read`) on the API port and public on `METRICS_PORT` only; its counters move with the traffic.
 */
import { ADMIN, signToken, startAgentApi, type Harness } from '../support/agent-api.harness';
import { MetricsListener } from '../../apps/agent-api/src/metrics/metrics.listener';
import { promtoolCheck, promtoolInstalled, sample } from './prometheus-text';
import { itIf } from '../support/services';
import { waitFor } from '../support/wait-for';

describe.each(['express', 'fastify'] as const)('metrics (%s)', (adapter) => {
  let h: Harness;
  let metricsUrl: string;
  const admin = signToken({ ...ADMIN, tenant_id: 't-metrics' });
  const auditor = signToken({ roles: ['auditor'], scope: 'metrics:read', tenant_id: 't-metrics' });

  beforeAll(async () => {
    h = await startAgentApi({
      adapter,
      env: { METRICS_PORT: '0' },
      configure: (config) => {
        config.policy.rateLimits = {
          ...config.policy.rateLimits,
          operations: { ...config.policy.rateLimits?.operations, 'agent.list': { limit: 2, ttl: 60 } },
        };
      },
    });
    metricsUrl = `http://127.0.0.1:${h.app.get(MetricsListener).port}/metrics`;
  }, 60_000);
  afterAll(() => h?.close());

  const scrape = async () => {
    const res = await h.http().get('/metrics').set('Authorization', `Bearer ${admin}`).expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    return res.text;
  };

  it('needs metrics.read and the metrics:read scope on the API port', async () => {
    expect((await h.http().get('/metrics')).status).toBe(401);
    const operator = signToken({ roles: ['operator'], scope: 'metrics:read' });
    expect((await h.http().get('/metrics').set('Authorization', `Bearer ${operator}`)).body.code).toBe('forbidden');
    const noScope = signToken({ roles: ['auditor'], scope: 'audit:read' });
    expect((await h.http().get('/metrics').set('Authorization', `Bearer ${noScope}`)).body.code).toBe(
      'insufficient_scope',
    );
    const ok = await h.http().get('/metrics').set('Authorization', `Bearer ${auditor}`).expect(200);
    expect(ok.text).toContain('# TYPE policy_decisions_total counter');
  });

  it('serves the same metrics without credentials on METRICS_PORT, and nothing else there', async () => {
    const res = await fetch(metricsUrl);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await res.text()).toContain('# TYPE http_request_duration_seconds histogram');
    expect((await fetch(metricsUrl.replace('/metrics', '/agents'))).status).toBe(404);
  });

  it('counts decisions, rate-limit hits, auth failures, budget reservations and spend, audit writes and HTTP latency', async () => {
    const before = await scrape();
    const auth = { Authorization: `Bearer ${admin}` };
    const agent = await h.http().post('/agents').set(auth).send({ name: 'm' }).expect(201);
    await h.http().get(`/agents/${agent.body.id}`).set(auth).expect(200);
    await h.http().get(`/agents/${agent.body.id}`).set(auth).expect(200);
    const operator = signToken({ roles: ['operator'], scope: 'admin' });
    await h.http().post('/customers').set('Authorization', `Bearer ${operator}`).send({ name: 'x' }).expect(403);
    await h.http().get('/agents').set('Authorization', 'Bearer not-a-token').expect(401);
    const lister = signToken({ ...ADMIN, tenant_id: 't-metrics' });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++)
      statuses.push((await h.http().get('/agents').set('Authorization', `Bearer ${lister}`)).status);
    expect(statuses.filter((s) => s === 429).length).toBe(2);
    const session = await h.http().post('/sessions').set(auth).send({ agentId: agent.body.id }).expect(201);
    const event = await h
      .http()
      .post(`/sessions/${session.body.id}/events`)
      .set(auth)
      .send({ message: 'count me' })
      .expect(201);
    await h.http().delete(`/agents/${agent.body.id}`).set(auth).expect(403); // needs an approval
    await h.http().get('/customers/jane.metrics@example.org').set(auth).expect(400);
    await h.http().get('/nowhere/jane.metrics@example.org').set(auth).expect(404);
    // The audit writer flushes and the budget settles off the request path, and a request is timed once its answer is
    // sent: scrape until those last ones show.
    const after = await waitFor(
      async () => {
        const text = await scrape();
        const grew = (name: string, labels: Record<string, string>) =>
          sample(text, name, labels) > sample(before, name, labels);
        const settled =
          grew('policy_audit_write_seconds_count', {}) &&
          grew('policy_budget_spent_total', { scope: 'principal', unit: 'requests' }) &&
          grew('http_request_duration_seconds_count', { method: 'GET', route: 'unmatched', status_code: '404' });
        return settled ? text : null;
      },
      { what: 'the audit write, the budget settlement and the last request in /metrics' },
    );

    const delta = (name: string, labels: Record<string, string> = {}) =>
      sample(after, name, labels) - sample(before, name, labels);
    expect(delta('policy_decisions_total', { operation: 'agent.read', outcome: 'ALLOW' })).toBe(2);
    expect(delta('policy_decisions_total', { operation: 'customer.create', outcome: 'DENY' })).toBe(1);
    expect(delta('policy_decisions_total', { operation: 'agent.delete', outcome: 'REQUIRE_APPROVAL' })).toBe(1);
    expect(delta('policy_rate_limit_hits_total', { bucket: 'operation:agent.list' })).toBe(2);
    expect(delta('policy_auth_failures_total', { credential: 'jwt' })).toBe(1);
    expect(delta('policy_budget_reservations_total', { outcome: 'reserved' })).toBe(1);
    expect(delta('policy_budget_reserved_total', { scope: 'principal', unit: 'tokens' })).toBeGreaterThan(256);
    expect(delta('policy_budget_spent_total', { scope: 'principal', unit: 'cost' })).toBeCloseTo(
      event.body.usage.cost,
      9,
    );
    expect(delta('policy_budget_spent_total', { scope: 'principal', unit: 'tokens' })).toBe(
      event.body.usage.inputTokens + event.body.usage.outputTokens,
    );
    expect(delta('policy_budget_spent_total', { scope: 'principal', unit: 'requests' })).toBe(1);
    expect(delta('policy_audit_write_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(after).toMatch(/^policy_audit_queue_length \d+$/m);
    expect(after).toContain('# TYPE policy_tool_invocations_total counter');
    expect(
      delta('http_request_duration_seconds_count', { method: 'GET', route: '/agents/:id', status_code: '200' }),
    ).toBe(2);
    expect(delta('http_request_duration_seconds_count', { method: 'GET', route: '/agents', status_code: '429' })).toBe(
      2,
    );
    expect(
      delta('http_request_duration_seconds_count', { method: 'POST', route: '/customers', status_code: '403' }),
    ).toBe(1);
    expect(
      delta('http_request_duration_seconds_count', { method: 'GET', route: '/customers/:id', status_code: '400' }),
    ).toBe(1);
    expect(
      delta('http_request_duration_seconds_count', { method: 'GET', route: 'unmatched', status_code: '404' }),
    ).toBe(1);
    expect(after).not.toContain(agent.body.id);
    expect(after).not.toContain('jane.metrics');
  });

  itIf(promtoolInstalled(), 'promtool (apt-get install prometheus)')(
    'is accepted by promtool check metrics',
    async () => {
      const text = await scrape();
      const result = promtoolCheck(text);
      expect(result.output).toBe('');
      expect(result.status).toBe(0);
    },
  );
});
