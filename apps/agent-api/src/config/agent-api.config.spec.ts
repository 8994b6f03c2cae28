import { loadConfig } from './agent-api.config';

describe('loadConfig: Redis', () => {
  it('takes REDIS_URL as given, one server or a cluster', () => {
    expect(loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379' }).redisUrl).toBe('redis://127.0.0.1:6379');
    expect(loadConfig({ REDIS_URL: 'redis+cluster://10.0.0.1:7000,10.0.0.2:7000' }).redisUrl).toBe('redis+cluster://10.0.0.1:7000,10.0.0.2:7000');
    expect(loadConfig({}).redisUrl).toBeUndefined();
  });

  it('turns REDIS_CLUSTER_NODES into a cluster URL', () => {
    expect(loadConfig({ REDIS_CLUSTER_NODES: '10.0.0.1:7000, 10.0.0.2:7001' }).redisUrl).toBe('redis+cluster://10.0.0.1:7000,10.0.0.2:7001');
  });

  it('refuses a malformed node list, and both variables at once', () => {
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: '10.0.0.1:7000,h:port' })).toThrow('REDIS_CLUSTER_NODES: cluster node "h:port" is not host:port');
    expect(() => loadConfig({ REDIS_URL: 'redis://a', REDIS_CLUSTER_NODES: 'b:7000' })).toThrow('REDIS_URL and REDIS_CLUSTER_NODES are both set');
  });
});
