import { loadConfig } from './agent-api.config';

describe('loadConfig: Redis', () => {
  it('takes REDIS_URL as given, one server or a cluster', () => {
    expect(loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379' }).redisUrl).toBe('redis://127.0.0.1:6379');
    expect(loadConfig({ REDIS_URL: 'redis+cluster://10.0.0.1:7000,10.0.0.2:7000' }).redisUrl).toBe(
      'redis+cluster://10.0.0.1:7000,10.0.0.2:7000',
    );
    expect(loadConfig({}).redisUrl).toBeUndefined();
  });

  it('turns REDIS_CLUSTER_NODES into a cluster URL', () => {
    expect(loadConfig({ REDIS_CLUSTER_NODES: '10.0.0.1:7000, 10.0.0.2:7001' }).redisUrl).toBe(
      'redis+cluster://10.0.0.1:7000,10.0.0.2:7001',
    );
  });

  it('refuses a malformed node list, and both variables at once', () => {
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: '10.0.0.1:7000,h:port' })).toThrow(
      'REDIS_CLUSTER_NODES: cluster node "h:port" is not host:port',
    );
    expect(() => loadConfig({ REDIS_URL: 'redis://a', REDIS_CLUSTER_NODES: 'b:7000' })).toThrow(
      'REDIS_URL and REDIS_CLUSTER_NODES are both set',
    );
  });
});

describe('loadConfig: anomaly alerts', () => {
  it('ships alerts off; ALERTS=on turns them on and the webhook comes from the environment', () => {
    expect(loadConfig({}).policy.alerts?.enabled).toBe(false);
    const config = loadConfig({
      ALERTS: 'on',
      ALERTS_WEBHOOK_URL: 'https://hooks.example.com/p',
      ALERTS_WEBHOOK_SECRET: 's'.repeat(32),
    });
    expect(config.policy.alerts).toMatchObject({
      enabled: true,
      webhookUrl: 'https://hooks.example.com/p',
      webhookSecret: 's'.repeat(32),
    });
  });

  it('refuses a webhook without a secret, a non-http URL and an unknown ALERTS value', () => {
    expect(() => loadConfig({ ALERTS_WEBHOOK_URL: 'https://hooks.example.com/p' })).toThrow('ALERTS_WEBHOOK_SECRET');
    expect(() =>
      loadConfig({ ALERTS_WEBHOOK_URL: 'file:///etc/passwd', ALERTS_WEBHOOK_SECRET: 's'.repeat(32) }),
    ).toThrow('ALERTS_WEBHOOK_URL');
    expect(() => loadConfig({ ALERTS: 'yes' })).toThrow('ALERTS must be on or off');
  });
});
