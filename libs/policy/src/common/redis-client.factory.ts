import { Logger } from '@nestjs/common';
import type { Cluster, ClusterOptions, Redis, RedisOptions } from 'ioredis';

/** The shared Redis client: one server (`Redis`) or a Redis Cluster (`Cluster`). Both speak the commands used here. */
export type PolicyRedisClient = Redis | Cluster;

/** Where a Redis URL points: one server, or the seed nodes of a cluster. */
export type RedisTarget =
  | { kind: 'server'; url: string }
  | {
      kind: 'cluster';
      nodes: Array<{ host: string; port: number }>;
      username?: string;
      password?: string;
      tls: boolean;
    };

const CLUSTER_SCHEMES: Record<string, boolean> = { 'redis+cluster:': false, 'rediss+cluster:': true };

/**
 * Reads a Redis URL. `redis://…` and `rediss://…` name one server (any ioredis URL). `redis+cluster://host:port,
 * host:port` (or `rediss+cluster://` for TLS) names a Redis Cluster by one or more of its nodes; credentials, when
 * given, go before the first node (`redis+cluster://user:pass@h1:7000,h2:7001`). A node without a port uses 6379.
 * @example
 * parseRedisTarget('redis+cluster://10.0.0.1:7000,10.0.0.2:7000');
 * // { kind: 'cluster', nodes: [{ host: '10.0.0.1', port: 7000 }, { host: '10.0.0.2', port: 7000 }], tls: false }
 * @throws Error naming the URL's fault (never its password).
 */
export function parseRedisTarget(url: string): RedisTarget {
  const scheme = /^([a-z+]+:)\/\//i.exec(url)?.[1]?.toLowerCase();
  if (scheme === undefined || !(scheme in CLUSTER_SCHEMES)) return { kind: 'server', url };
  let rest = url.slice(scheme.length + 2).replace(/[/?#].*$/, '');
  let username: string | undefined;
  let password: string | undefined;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    const credentials = rest.slice(0, at);
    rest = rest.slice(at + 1);
    const colon = credentials.indexOf(':');
    username = decodeURIComponent(colon >= 0 ? credentials.slice(0, colon) : credentials) || undefined;
    password = colon >= 0 ? decodeURIComponent(credentials.slice(colon + 1)) || undefined : undefined;
  }
  const nodes = rest
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part.length > 0)
    .map((part) => parseNode(part));
  if (nodes.length === 0) throw new Error(`redisUrl: ${scheme}// needs at least one host:port`);
  return { kind: 'cluster', nodes, username, password, tls: CLUSTER_SCHEMES[scheme] };
}

function parseNode(part: string): { host: string; port: number } {
  const match = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(part);
  const port = match?.[2] === undefined ? 6379 : Number(match[2]);
  if (!match || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`redisUrl: cluster node "${part}" is not host:port`);
  }
  return { host: match[1].replace(/^\[|\]$/g, ''), port };
}

/**
 * Turns a list of cluster nodes (`host:port,host:port`, e.g. the `REDIS_CLUSTER_NODES` variable) into a
 * `redis+cluster://` URL.
 * @example
 * clusterUrlFromNodes('10.0.0.1:7000, 10.0.0.2:7000'); // 'redis+cluster://10.0.0.1:7000,10.0.0.2:7000'
 * @throws Error when a node is not host:port.
 */
export function clusterUrlFromNodes(nodes: string): string {
  const url = `redis+cluster://${nodes
    .split(',')
    .map((n) => n.trim())
    .filter(Boolean)
    .join(',')}`;
  parseRedisTarget(url);
  return url;
}

/** True when the client is an ioredis `Cluster`. */
export function isRedisCluster(client: PolicyRedisClient): client is Cluster {
  return (client as { isCluster?: boolean }).isCluster === true;
}

/**
 * Per-connection settings: commands fail fast instead of queueing while a node is away (each store then applies its
 * fail mode), and the connection comes back by itself.
 */
const CONNECTION_OPTIONS: RedisOptions = {
  // No auto-pipelining: the rate-limit and budget stores already send the calls of one event-loop turn as one
  // script call, and a second layer of deferral only added latency (measured in bench/).
  enableAutoPipelining: false,
  maxRetriesPerRequest: 1,
  enableOfflineQueue: false,
  connectTimeout: 2000,
  commandTimeout: 2000,
  retryStrategy: (times: number) => Math.min(times * 100, 1000),
};

/**
 * Creates the client for a Redis URL without connecting it: a `Redis` for `redis://`/`rediss://`, a `Cluster` for
 * `redis+cluster://`/`rediss+cluster://`. On a cluster, commands follow MOVED/ASK redirections; while a master is
 * down and no replica has taken over, commands on its slots fail fast (the stores apply their fail mode), and the
 * slot map is refreshed every second so a promoted replica is used as soon as it serves.
 */
export function buildRedisClient(url: string): PolicyRedisClient {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- ioredis is an optional peer, loaded only when a Redis URL is configured
  const ioredis = require('ioredis') as {
    default: new (url: string, options: RedisOptions) => Redis;
    Cluster: new (nodes: Array<{ host: string; port: number }>, options: ClusterOptions) => Cluster;
  };
  const target = parseRedisTarget(url);
  if (target.kind === 'server') return new ioredis.default(url, { ...CONNECTION_OPTIONS, lazyConnect: true });
  return new ioredis.Cluster(target.nodes, {
    lazyConnect: true,
    enableOfflineQueue: false,
    enableAutoPipelining: false,
    // Keep a failing command short: a cluster without a master for some slots answers CLUSTERDOWN until a replica
    // is promoted; a few quick retries ride over a redirection, not over the outage (the fail mode covers that).
    maxRedirections: 6,
    retryDelayOnClusterDown: 100,
    retryDelayOnFailover: 100,
    retryDelayOnTryAgain: 100,
    slotsRefreshTimeout: 1000,
    slotsRefreshInterval: 1000,
    clusterRetryStrategy: (times: number) => Math.min(times * 100, 1000),
    redisOptions: {
      ...CONNECTION_OPTIONS,
      username: target.username,
      password: target.password,
      tls: target.tls ? {} : undefined,
    },
  });
}

/**
 * Creates the shared Redis client when a URL is configured and waits (briefly) for it to be ready, so the first
 * requests do not fail on a connection still being set up. An unreachable Redis at boot does not stop the app: each
 * store then applies its fail mode until Redis answers.
 * @throws Error when the URL is malformed (a `redis+cluster://` URL without a valid node).
 */
export async function createRedisClient(url: string | undefined): Promise<PolicyRedisClient | null> {
  if (!url) return null;
  const client = buildRedisClient(url);
  client.on('error', () => undefined); // Errors surface on each command.
  await client
    .connect()
    .catch((err: Error) => new Logger('PolicyModule').warn(`Redis unreachable at boot: ${err.message}`));
  return client;
}

/**
 * A second connection for pub/sub (a subscribed connection can send nothing else), with the same servers and
 * credentials. Unlike the shared client it queues while disconnected and retries for ever, so a subscription is
 * restored after an outage or a failover.
 */
export function duplicateForSubscribe(client: PolicyRedisClient): PolicyRedisClient {
  const subscriberOptions: Partial<RedisOptions> = {
    enableOfflineQueue: true,
    enableAutoPipelining: false,
    maxRetriesPerRequest: null,
    lazyConnect: false,
  };
  if (isRedisCluster(client)) {
    return client.duplicate([], {
      enableOfflineQueue: true,
      lazyConnect: false,
      redisOptions: { ...client.options.redisOptions, ...subscriberOptions },
    });
  }
  return client.duplicate(subscriberOptions);
}

/**
 * Whether Redis can serve: the server answers PING; on a cluster, every master the client knows answers and reports
 * `cluster_state:ok`, and every slot's master (as `CLUSTER SLOTS` names it) is one of them — so a master that has
 * just died is noticed before the cluster itself marks it failed (a master down without a promoted replica leaves
 * some keys unserved).
 */
export async function redisReady(client: PolicyRedisClient): Promise<boolean> {
  try {
    if (!isRedisCluster(client)) return (await client.ping()) === 'PONG';
    const masters = client.nodes('master');
    if (masters.length === 0) return false;
    const [slots, ...states] = await Promise.all([
      masters[0].call('CLUSTER', 'SLOTS') as Promise<unknown[][]>,
      ...masters.map((node) => node.call('CLUSTER', 'INFO') as Promise<string>),
    ]);
    if (!states.every((info) => /cluster_state:ok/.test(info))) return false;
    const answering = new Set(masters.map((node) => `${node.options.host}:${node.options.port}`));
    return slots.every((range) => {
      const [host, port] = (range[2] ?? []) as [string?, number?];
      return answering.has(`${host}:${port}`);
    });
  } catch {
    return false;
  }
}

/** Closes a client: QUIT, or a hard disconnect when that fails. */
export async function closeRedisClient(client: PolicyRedisClient): Promise<void> {
  await client.quit().catch(() => client.disconnect());
}
