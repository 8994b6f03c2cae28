import { clusterUrlFromNodes, parseRedisTarget } from './redis-client.factory';

describe('parseRedisTarget', () => {
  it.each(['redis://127.0.0.1:6379', 'rediss://u:p@h:6380/2', 'redis://h'])('keeps %s as one server', (url) => {
    expect(parseRedisTarget(url)).toEqual({ kind: 'server', url });
  });

  it('reads the nodes of a cluster URL', () => {
    expect(parseRedisTarget('redis+cluster://10.0.0.1:7000, 10.0.0.2:7001,redis-3')).toEqual({
      kind: 'cluster',
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: '10.0.0.2', port: 7001 },
        { host: 'redis-3', port: 6379 },
      ],
      username: undefined,
      password: undefined,
      tls: false,
    });
  });

  it('reads credentials, TLS and IPv6 nodes', () => {
    expect(parseRedisTarget('rediss+cluster://app:s%40cret@[::1]:7000,[fd00::2]:7001/')).toEqual({
      kind: 'cluster',
      nodes: [
        { host: '::1', port: 7000 },
        { host: 'fd00::2', port: 7001 },
      ],
      username: 'app',
      password: 's@cret',
      tls: true,
    });
    expect(parseRedisTarget('REDIS+CLUSTER://:only-pass@h:1')).toMatchObject({
      username: undefined,
      password: 'only-pass',
    });
  });

  it.each([
    ['redis+cluster://', 'needs at least one host:port'],
    ['redis+cluster://h:0', '"h:0" is not host:port'],
    ['redis+cluster://h:99999', '"h:99999" is not host:port'],
    ['redis+cluster://h:x', '"h:x" is not host:port'],
  ])('refuses %s', (url, message) => {
    expect(() => parseRedisTarget(url)).toThrow(message);
  });

  it('never echoes the password of a bad URL', () => {
    expect(() => parseRedisTarget('redis+cluster://u:topsecret@h:nope')).toThrow(/^(?!.*topsecret)/);
  });
});

describe('clusterUrlFromNodes', () => {
  it('turns a node list into a cluster URL', () => {
    expect(clusterUrlFromNodes(' 10.0.0.1:7000 ,10.0.0.2:7000,')).toBe('redis+cluster://10.0.0.1:7000,10.0.0.2:7000');
  });

  it('refuses a malformed node', () => {
    expect(() => clusterUrlFromNodes('10.0.0.1:7000,bad:port')).toThrow('"bad:port" is not host:port');
  });
});
