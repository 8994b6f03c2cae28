import { describe, expect, it } from '@jest/globals';
import type { AuditService } from '../audit/audit.service';
import type { AuditEventInput } from '../audit/audit-event.interface';
import type { Principal } from '../authentication/principal.interface';
import type { CompiledPolicy } from '../authorization/compiled-policy';
import type { AlertsConfig } from './alerts.schema';
import { AnomalyAlerts, principalSubject } from './anomaly-alerts.service';

const principal: Principal = {
  id: 'alice',
  type: 'user',
  tenantId: 't1',
  roles: [],
  scopes: [],
  tier: null,
  tokenId: null,
  apiKeyId: null,
};

function alertsWith(config: AlertsConfig, clock: { now: number }) {
  const recorded: AuditEventInput[] = [];
  const audit = { record: async (e: AuditEventInput) => (recorded.push(e), 'id') } as unknown as AuditService;
  const alerts = new AnomalyAlerts(
    { document: { alerts: config } } as unknown as CompiledPolicy,
    audit,
    null,
    () => clock.now,
  );
  return { alerts, recorded };
}

/** 3 requests a bucket for 5 buckets, then 30 in the next. */
function burst(alerts: AnomalyAlerts, clock: { now: number }) {
  const start = 1_700_000_000_000;
  for (let b = 0; b < 6; b++) {
    for (let i = 0; i < (b < 5 ? 3 : 30); i++) {
      clock.now = start + b * 1000 + i;
      alerts.observeDecision(principal, false, { requestId: `r${b}-${i}`, ip: '10.0.0.1' });
    }
  }
}

describe('AnomalyAlerts', () => {
  const base = { bucketSeconds: 1, baselineBuckets: 5, minCount: 10 };

  it('refuses a webhook URL without a secret, naming the key', () => {
    expect(() => alertsWith({ webhookUrl: 'https://hooks.example.com/x' }, { now: 0 })).toThrow('alerts.webhookSecret');
  });

  it('is off without the section or with enabled: false', () => {
    const audit = {} as AuditService;
    expect(new AnomalyAlerts({ document: {} } as unknown as CompiledPolicy, audit).enabled).toBe(false);
    expect(alertsWith({ enabled: false }, { now: 0 }).alerts.enabled).toBe(false);
  });

  it('records one event for a burst and blocks the principal for blockSeconds', () => {
    const clock = { now: 0 };
    const { alerts, recorded } = alertsWith({ ...base, blockSeconds: 10 }, clock);
    burst(alerts, clock);
    expect(recorded).toHaveLength(1);
    expect(recorded[0]).toMatchObject({
      type: 'security.anomaly',
      outcome: 'DENY',
      principalId: 'alice',
      tenantId: 't1',
    });
    expect(alerts.blockedFor(principalSubject(principal))).toBeGreaterThan(9000);
    clock.now += 10_001;
    expect(alerts.blockedFor(principalSubject(principal))).toBe(0);
    alerts.onModuleDestroy();
  });

  it('in shadow mode records the event (SHADOW_DENY) and blocks nothing', () => {
    const clock = { now: 0 };
    const { alerts, recorded } = alertsWith({ ...base, blockSeconds: 10, mode: 'shadow' }, clock);
    burst(alerts, clock);
    expect(recorded.map((e) => e.outcome)).toEqual(['SHADOW_DENY']);
    expect(alerts.blocking).toBe(false);
    expect(alerts.blockedFor(principalSubject(principal))).toBe(0);
    alerts.onModuleDestroy();
  });

  it('counts in memory when Redis does not answer, so detection and blocks go on per process', async () => {
    const clock = { now: 0 };
    const recorded: AuditEventInput[] = [];
    const audit = { record: async (e: AuditEventInput) => (recorded.push(e), 'id') } as unknown as AuditService;
    let calls = 0;
    const redis = {
      defineCommand: () => undefined,
      napAnomalyCount: () => (calls++, Promise.reject(new Error('Connection is closed.'))),
    };
    const alerts = new AnomalyAlerts(
      { document: { alerts: { ...base, blockSeconds: 10 } } } as unknown as CompiledPolicy,
      audit,
      redis as never,
      () => clock.now,
    );
    burst(alerts, clock);
    const deadline = Date.now() + 5000;
    while (recorded.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(calls).toBeGreaterThan(0);
    expect(recorded.map((e) => e.type)).toEqual(['security.anomaly']);
    expect(alerts.blockedFor(principalSubject(principal))).toBeGreaterThan(0);
    alerts.onModuleDestroy();
  });

  it('keeps principals of different tenants apart', () => {
    expect(principalSubject({ ...principal, tenantId: 'a:b', id: 'c' })).not.toBe(
      principalSubject({ ...principal, tenantId: 'a', id: 'b:c' }),
    );
  });
});
