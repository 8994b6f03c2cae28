import { PolicyMetrics } from './policy-metrics';

async function grants(metrics: PolicyMetrics, operation: string): Promise<number | undefined> {
  const { values } = await metrics.decisions.get();
  return values.find((v) => v.labels.operation === operation && v.labels.outcome === 'ALLOW')?.value;
}

describe('PolicyMetrics.countGrant', () => {
  it('counts ALLOW decisions per operation in policy_decisions_total, whenever the counter is read', async () => {
    const metrics = new PolicyMetrics();
    for (let i = 0; i < 3; i++) metrics.countGrant('agent.read');
    metrics.countGrant('agent.create');
    metrics.decisions.inc({ operation: 'agent.read', outcome: 'DENY' });
    expect(await grants(metrics, 'agent.read')).toBe(3);
    expect(await grants(metrics, 'agent.create')).toBe(1);
    // Counted again after a read, and mixed with inc() of the same series.
    metrics.countGrant('agent.read');
    metrics.decisions.inc({ operation: 'agent.read', outcome: 'ALLOW' });
    expect(await grants(metrics, 'agent.read')).toBe(5);
    const text = await metrics.registry.metrics();
    expect(text).toContain('policy_decisions_total{operation="agent.read",outcome="ALLOW"} 5');
    expect(text).toContain('policy_decisions_total{operation="agent.read",outcome="DENY"} 1');
    metrics.countGrant('agent.create');
    expect(await metrics.registry.metrics()).toContain(
      'policy_decisions_total{operation="agent.create",outcome="ALLOW"} 2',
    );
  });
});
