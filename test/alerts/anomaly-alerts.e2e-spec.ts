/**
 * Anomaly alerts (SPEC §14) through agent-api over real HTTP, on Express and Fastify: a steady baseline then a 10×
 * burst raises exactly one `security.anomaly` event and one signed webhook delivery; a flat load raises none; a
 * failing or hanging receiver never slows requests; `blockSeconds` refuses the principal (and, for failed
 * authentication, the client IP) with 403 reason `anomaly` until it expires; shadow mode raises without blocking.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { verifyAlertSignature, type AnomalyEvent } from 'nest-agent-policy';
import { ADMIN, signToken, startAgentApi, type Harness } from '../support/agent-api.harness';
import {
  anomalies,
  nextBucket,
  paced,
  poll,
  sleep,
  startReceiver,
  testAlerts,
  WEBHOOK_SECRET,
  type Receiver,
} from './alerts.support';

const bearer = (sub: string) => ({ Authorization: `Bearer ${signToken({ sub, ...ADMIN })}` });

async function newAgent(h: Harness, headers: Record<string, string>): Promise<string> {
  const res = await h.http().post('/agents').set(headers).send({ name: 'alerts agent' });
  expect(res.status).toBe(201);
  return res.body.id as string;
}

/** Steady reads at 3/s for `seconds`, then 30 at once at the start of a bucket (10× the baseline). */
async function baselineThenBurst(h: Harness, headers: Record<string, string>, path: string, seconds = 5) {
  await paced(3, seconds, () => h.http().get(path).set(headers));
  await nextBucket();
  return Promise.all(Array.from({ length: 30 }, () => h.http().get(path).set(headers)));
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** `n` reads at 8 a second (under minCount: the reader never raises an anomaly itself), each one timed. */
async function timedReads(h: Harness, headers: Record<string, string>, path: string, n: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const started = performance.now();
    const res = await h.http().get(path).set(headers);
    expect(res.status).toBe(200);
    const took = performance.now() - started;
    times.push(took);
    await sleep(Math.max(0, 125 - took));
  }
  return times;
}

describe.each(['express', 'fastify'] as const)('anomaly alerts (%s)', (adapter) => {
  describe('a burst against a steady baseline, next to a flat load', () => {
    let h: Harness;
    let receiver: Receiver;
    beforeAll(async () => {
      receiver = await startReceiver('ok');
      h = await startAgentApi({ adapter, configure: (config) => (config.policy.alerts = testAlerts(receiver)) });
    });
    afterAll(async () => {
      await h.close();
      await receiver.close();
    });

    it('raises exactly one security.anomaly event and one signed delivery for the burst, none for the flat load', async () => {
      const bursty = bearer(`burst-${adapter}`);
      const flat = bearer(`flat-${adapter}`);
      const path = `/agents/${await newAgent(h, bursty)}`;
      let flatDone = false;
      // The flat principal: 12 reads a second throughout (above minCount, never anomalous).
      const flatLoad = paced(12, 10, async () => expect((await h.http().get(path).set(flat)).status).toBe(200)).finally(
        () => (flatDone = true),
      );
      const burst = await baselineThenBurst(h, bursty, path);
      expect(burst.map((r) => r.status)).toEqual(Array(30).fill(200));

      const [event] = await poll('the anomaly event', async () => {
        const found = await anomalies(h, `burst-${adapter}`);
        return found.length ? found : null;
      });
      expect(event).toMatchObject({ type: 'security.anomaly', outcome: 'WARNING', principalId: `burst-${adapter}` });
      expect(event.details.metric).toBe('requests');
      expect(event.details.observed).toBeGreaterThanOrEqual(10);
      expect(event.details.baselineMean).toBeGreaterThan(1);
      expect(event.details.baselineMean).toBeLessThan(6);
      expect(event.details.z).toBeGreaterThanOrEqual(4);

      const [delivery] = await poll('the webhook delivery', () =>
        receiver.deliveries.length ? receiver.deliveries : null,
      );
      expect(delivery.headers['content-type']).toBe('application/json');
      expect(delivery.headers['x-policy-delivery']).toBe(event.id);
      expect(
        verifyAlertSignature(WEBHOOK_SECRET, delivery.body, delivery.headers['x-policy-signature'] as string),
      ).toBe(true);
      expect(
        verifyAlertSignature(
          'not-the-webhook-secret-000',
          delivery.body,
          delivery.headers['x-policy-signature'] as string,
        ),
      ).toBe(false);
      const body = JSON.parse(delivery.body) as AnomalyEvent;
      expect(body).toMatchObject({
        type: 'security.anomaly',
        id: event.id,
        metric: 'requests',
        subject: { kind: 'principal', principalId: `burst-${adapter}`, tenantId: null },
        observed: event.details.observed,
        blockedUntil: null,
        mode: 'enforce',
      });

      // The burst principal goes back to its baseline (the episode ends) while the flat load runs to its end.
      await paced(3, 2, () => h.http().get(path).set(bursty));
      await flatLoad;
      expect(flatDone).toBe(true);
      expect(await anomalies(h, `flat-${adapter}`)).toEqual([]);
      expect(await anomalies(h, `burst-${adapter}`)).toHaveLength(1);
      expect(receiver.deliveries).toHaveLength(1);
    });
  });

  describe('a failing webhook receiver', () => {
    let h: Harness;
    let receiver: Receiver;
    beforeAll(async () => {
      receiver = await startReceiver('fail');
      h = await startAgentApi({ adapter, configure: (config) => (config.policy.alerts = testAlerts(receiver)) });
    });
    afterAll(async () => {
      await h.close();
      await receiver.close();
    });

    it.each(['fail', 'hang'] as const)(
      '(%s) is retried off the request path and never slows requests',
      async (mode) => {
        receiver.mode = mode;
        receiver.deliveries.length = 0;
        const sub = `receiver-${mode}-${adapter}`;
        const headers = bearer(sub);
        const path = `/agents/${await newAgent(h, headers)}`;
        const reader = bearer(`${sub}-reader`);
        const before = await timedReads(h, reader, path, 15);
        const burst = await baselineThenBurst(h, headers, path);
        const burstAnswered = Date.now();
        expect(burst.every((r) => r.status === 200)).toBe(true);
        await poll('the first delivery attempt', () => receiver.deliveries.length >= 1);
        // While the receiver fails (500) or hangs (each attempt cut at 500 ms), requests go on at their usual pace.
        const during = await timedReads(h, reader, path, 15);
        const [event] = await poll('the anomaly event', async () => {
          const found = await anomalies(h, sub);
          return found.length ? found : null;
        });
        const attempts = () => receiver.deliveries.filter((d) => d.headers['x-policy-delivery'] === event.id);
        await poll('three delivery attempts', () => attempts().length >= 3, 15_000);
        expect(receiver.deliveries).toHaveLength(3);
        expect(
          attempts().every((d) =>
            verifyAlertSignature(WEBHOOK_SECRET, d.body, d.headers['x-policy-signature'] as string),
          ),
        ).toBe(true);
        // The attempts came after every request of the burst had its answer: nothing waited for them.
        expect(attempts()[2].at).toBeGreaterThan(burstAnswered);
        // Generous: a request that waited for one hanging attempt would take ≥ 500 ms.
        expect(median(during)).toBeLessThan(Math.max(3 * median(before), median(before) + 100));
        expect(Math.max(...during)).toBeLessThan(500);
        expect(await anomalies(h, sub)).toHaveLength(1);
      },
    );
  });

  describe('blockSeconds', () => {
    let h: Harness;
    let receiver: Receiver;
    beforeAll(async () => {
      receiver = await startReceiver('ok');
      h = await startAgentApi({
        adapter,
        configure: (config) => {
          config.policy.alerts = testAlerts(receiver, { blockSeconds: 2 });
          // The test client is the proxy: X-Forwarded-For names the client.
          config.trustProxy = 'loopback';
        },
      });
    });
    afterAll(async () => {
      await h.close();
      await receiver.close();
    });

    it('refuses the principal with 403 forbidden, reason anomaly, until the block expires', async () => {
      const sub = `blocked-${adapter}`;
      const headers = bearer(sub);
      const bystander = bearer(`bystander-${adapter}`);
      const path = `/agents/${await newAgent(h, headers)}`;
      await baselineThenBurst(h, headers, path);
      const refused = await poll('a refusal', async () => {
        const res = await h.http().get(path).set(headers);
        return res.status === 403 ? res : null;
      });
      const refusedAt = Date.now();
      expect(refused.body).toEqual({
        statusCode: 403,
        code: 'forbidden',
        message: 'Refused after anomalous activity',
        reason: 'anomaly',
      });
      expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(2);
      // Another principal is not affected.
      expect((await h.http().get(path).set(bystander)).status).toBe(200);
      // The audit log is written off the request path: the event may land just after the refusal.
      const [event] = await poll('the anomaly event', async () => {
        const found = await anomalies(h, sub);
        return found.length ? found : null;
      });
      expect(event.outcome).toBe('DENY');
      expect(typeof event.details.blockedUntil).toBe('string');
      const allowed = await poll(
        'the block to expire',
        async () => {
          const res = await h.http().get(path).set(headers);
          if (res.status === 403) expect(res.body.reason).toBe('anomaly');
          return res.status === 200 ? Date.now() : null;
        },
        6_000,
      );
      expect(allowed - refusedAt).toBeGreaterThan(500);
      expect(await anomalies(h, sub)).toHaveLength(1);
    });

    it('counts failed authentication per client IP and refuses that IP once it is anomalous', async () => {
      const bad = { Authorization: 'Bearer not-a-token', 'X-Forwarded-For': '203.0.113.9' };
      await paced(3, 5, () => h.http().get('/agents').set(bad));
      await nextBucket();
      const burst = await Promise.all(Array.from({ length: 30 }, () => h.http().get('/agents').set(bad)));
      expect(burst.every((r) => r.status === 401 || (r.status === 403 && r.body.reason === 'anomaly'))).toBe(true);
      const event = await poll('the auth_failures anomaly', async () =>
        (await anomalies(h)).find((e) => e.details.metric === 'auth_failures'),
      );
      expect(event.principalId).toBeNull();
      expect(event.outcome).toBe('DENY');
      // Credentials from the blocked IP are refused before they are checked, valid ones included; other IPs pass.
      const fromBlocked = { ...bearer(`from-blocked-ip-${adapter}`), 'X-Forwarded-For': '203.0.113.9' };
      const res = await h.http().get('/agents').set(fromBlocked);
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ code: 'forbidden', reason: 'anomaly' });
      expect(
        (
          await h
            .http()
            .get('/agents')
            .set({ ...fromBlocked, 'X-Forwarded-For': '203.0.113.10' })
        ).status,
      ).toBe(200);
      const delivered = await poll('the auth_failures delivery', () =>
        receiver.deliveries.map((d) => JSON.parse(d.body) as AnomalyEvent).find((e) => e.metric === 'auth_failures'),
      );
      expect(delivered.subject).toEqual({ kind: 'ip', ip: '203.0.113.9' });
      await poll(
        'the IP block to expire',
        async () => (await h.http().get('/agents').set(fromBlocked)).status === 200,
        6_000,
      );
    });
  });

  describe('shadow mode', () => {
    let h: Harness;
    let receiver: Receiver;
    beforeAll(async () => {
      receiver = await startReceiver('ok');
      h = await startAgentApi({
        adapter,
        configure: (config) => (config.policy.alerts = testAlerts(receiver, { blockSeconds: 30, mode: 'shadow' })),
      });
    });
    afterAll(async () => {
      await h.close();
      await receiver.close();
    });

    it('raises the event (SHADOW_DENY) and blocks nothing', async () => {
      const sub = `shadowed-${adapter}`;
      const headers = bearer(sub);
      const path = `/agents/${await newAgent(h, headers)}`;
      const burst = await baselineThenBurst(h, headers, path);
      expect(burst.map((r) => r.status)).toEqual(Array(30).fill(200));
      const [event] = await poll('the anomaly event', async () => {
        const found = await anomalies(h, sub);
        return found.length ? found : null;
      });
      expect(event.outcome).toBe('SHADOW_DENY');
      expect(event.details.blockedUntil).toBeNull();
      const delivery = await poll('the delivery', () => receiver.deliveries[0]);
      expect(JSON.parse(delivery.body)).toMatchObject({ mode: 'shadow', blockedUntil: null });
      for (let i = 0; i < 5; i++) expect((await h.http().get(path).set(headers)).status).toBe(200);
    });
  });
});
