/**
 * Anomaly alerts shared through Redis: two agent-api instances count one principal's requests together, so a burst
 * spread over both raises exactly one `security.anomaly` event and one webhook delivery, and the block raised by
 * one instance is applied by the other.
 */
import { afterAll, beforeAll, describe, expect } from '@jest/globals';
import Redis from 'ioredis';
import { verifyAlertSignature } from 'nest-agent-policy';
import { ADMIN, signToken, startAgentApi, type Harness } from '../support/agent-api.harness';
import { REDIS_URL, itWith, redisTestPrefix } from '../support/services';
import {
  anomalies,
  nextBucket,
  paced,
  poll,
  startReceiver,
  testAlerts,
  WEBHOOK_SECRET,
  type Receiver,
} from './alerts.support';

describe('anomaly alerts across two instances sharing Redis', () => {
  const it = itWith('redis');
  const { prefix, cleanup } = redisTestPrefix('alerts');
  const apps: Harness[] = [];
  let receiver: Receiver;
  let redis: Redis;

  beforeAll(async () => {
    receiver = await startReceiver('ok');
    redis = new Redis(REDIS_URL);
    for (let i = 0; i < 2; i++) {
      apps.push(
        await startAgentApi({
          env: { REDIS_URL },
          configure: (config) => {
            config.policy.alerts = testAlerts(receiver, { keyPrefix: `${prefix}al:`, blockSeconds: 3 });
            config.policy.rateLimits = { ...config.policy.rateLimits, keyPrefix: `${prefix}rl:` };
          },
        }),
      );
    }
  }, 60_000);

  afterAll(async () => {
    await Promise.all(apps.map((h) => h.close()));
    await receiver?.close();
    if (redis) {
      await cleanup(redis);
      redis.disconnect();
    }
  });

  it('raises one event and one delivery for a burst spread over both, and both instances block', async () => {
    const sub = 'redis-burst';
    const headers = { Authorization: `Bearer ${signToken({ sub, ...ADMIN })}` };
    const [a, b] = apps as [Harness, Harness];
    let turn = 0;
    await paced(3, 5, () => apps[turn++ % 2].http().get('/agents').set(headers));
    await nextBucket();
    const burst = await Promise.all(
      Array.from({ length: 30 }, (_, i) => apps[i % 2].http().get('/agents').set(headers)),
    );
    // Counting is asynchronous: the requests that brought the count to the anomaly were served, the block applies
    // to requests counted after it.
    expect(burst.every((r) => r.status === 200 || (r.status === 403 && r.body.reason === 'anomaly'))).toBe(true);
    expect(burst.filter((r) => r.status === 200).length).toBeGreaterThanOrEqual(10);

    const found = await poll('the anomaly event', async () => {
      const events = [...(await anomalies(a, sub)), ...(await anomalies(b, sub))];
      return events.length ? events : null;
    });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ type: 'security.anomaly', outcome: 'DENY', principalId: sub });
    expect(found[0].details.metric).toBe('requests');

    // Each instance refuses the principal at the latest once it has counted one more of its requests.
    for (const h of [a, b]) {
      const refused = await poll(
        'a refusal',
        async () => {
          const res = await h.http().get('/agents').set(headers);
          return res.status === 403 ? res : null;
        },
        2_000,
      );
      expect(refused.body).toMatchObject({ code: 'forbidden', reason: 'anomaly' });
    }

    const delivery = await poll('the delivery', () => receiver.deliveries[0]);
    expect(verifyAlertSignature(WEBHOOK_SECRET, delivery.body, delivery.headers['x-policy-signature'] as string)).toBe(
      true,
    );
    expect(JSON.parse(delivery.body)).toMatchObject({ id: found[0].id, subject: { principalId: sub } });

    // Once the block is over, the principal is served by both again, and still only one event was raised.
    for (const h of [a, b])
      await poll('the block to expire', async () => (await h.http().get('/agents').set(headers)).status === 200, 8_000);
    expect([...(await anomalies(a, sub)), ...(await anomalies(b, sub))]).toHaveLength(1);
    expect(receiver.deliveries).toHaveLength(1);

    // Every key of a subject shares one hash tag (one Cluster slot) and expires.
    const keys = await redis.keys(`${prefix}al:*`);
    expect(keys.some((key) => key.endsWith(':requests:c'))).toBe(true);
    for (const key of keys) {
      expect(key).toMatch(new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}al:\\{[0-9a-f]{32}\\}:`));
      // -1 would be a key without TTL; -2 one that expired since it was listed (the block, the episode flag).
      const ttl = await redis.pttl(key);
      expect(ttl === -2 || ttl > 0).toBe(true);
    }
  });
});
