/**
 * A local Redis Cluster for tests: 3 masters and 3 replicas, each a `redis-server --cluster-enabled yes` process on a
 * port of its own, in a temporary folder. `stop()` ends only these processes and removes the folder; the shared
 * Redis is never touched. Needs `redis-server` and `redis-cli` on the PATH.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ClusterNode {
  port: number;
  process: ChildProcess;
}

export interface LocalRedisCluster {
  /** `redis+cluster://127.0.0.1:p1,127.0.0.1:p2,…` */
  url: string;
  ports: number[];
  /** Runs redis-cli against one node and returns its output. */
  cli: (port: number, ...args: string[]) => string;
  /** The ports of the nodes currently serving as masters. */
  masters: () => number[];
  /** The port of the live master that serves `key` now. */
  masterOf: (key: string) => number;
  /** Stops one node's process (SIGKILL: a crash), resolving once it has exited. */
  kill: (port: number) => Promise<void>;
  /** Waits until every live node reports `cluster_state:ok` and `masters` masters serve the 16384 slots. */
  waitUntilHealthy: (timeoutMs?: number) => Promise<void>;
  stop: () => Promise<void>;
}

/** Throws a clear error when the Redis binaries are missing. */
export function assertRedisBinaries(): void {
  for (const bin of ['redis-server', 'redis-cli']) {
    const found = spawnSync(bin, ['--version'], { encoding: 'utf8' });
    if (found.error || found.status !== 0) {
      throw new Error(
        `${bin} is not installed (needed to start a local Redis Cluster): install redis (apt-get install redis-server)`,
      );
    }
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface RedisClusterOptions {
  /** `cluster-node-timeout` in ms (default 2000). */
  nodeTimeoutMs?: number;
  /**
   * `cluster-require-full-coverage` (Redis's default `true`): while a master is flagged failed and no replica has
   * taken over, every node refuses every command (CLUSTERDOWN). With `false` the surviving masters keep serving
   * their own slots.
   */
  requireFullCoverage?: boolean;
}

/**
 * Starts a 3-master, 3-replica cluster on `basePort` … `basePort + 5`.
 * @throws when redis-server or redis-cli is missing, a port is taken, or the cluster does not form in time.
 */
export async function startRedisCluster(
  basePort = 7300,
  { nodeTimeoutMs = 2000, requireFullCoverage = true }: RedisClusterOptions = {},
): Promise<LocalRedisCluster> {
  assertRedisBinaries();
  const dir = mkdtempSync(join(tmpdir(), 'redis-cluster-'));
  const ports = Array.from({ length: 6 }, (_, i) => basePort + i);
  const nodes = new Map<number, ClusterNode>();
  const cli = (port: number, ...args: string[]): string => {
    const result = spawnSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8', timeout: 10_000 });
    return `${result.stdout ?? ''}${result.stderr ?? ''}`;
  };
  const live = () => [...nodes.values()].filter((n) => n.process.exitCode === null && n.process.signalCode === null);

  const stop = async () => {
    await Promise.all(
      live().map(
        (node) =>
          new Promise<void>((resolve) => {
            node.process.once('exit', () => resolve());
            node.process.kill('SIGKILL');
          }),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    for (const port of ports) {
      const child = spawn(
        'redis-server',
        [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          join(dir, `nodes-${port}.conf`),
          '--cluster-node-timeout',
          String(nodeTimeoutMs),
          '--cluster-require-full-coverage',
          requireFullCoverage ? 'yes' : 'no',
          '--dir',
          dir,
          '--dbfilename',
          `dump-${port}.rdb`,
          '--appendonly',
          'no',
          '--save',
          '',
          '--daemonize',
          'no',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      child.stdout?.resume();
      child.stderr?.resume();
      nodes.set(port, { port, process: child });
    }
    const deadline = Date.now() + 10_000;
    for (const port of ports) {
      while (!cli(port, 'PING').includes('PONG')) {
        if (nodes.get(port)!.process.exitCode !== null)
          throw new Error(`redis-server on port ${port} exited (port taken?)`);
        if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer`);
        await sleep(50);
      }
    }
    const create = spawnSync(
      'redis-cli',
      ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '1', '--cluster-yes'],
      { encoding: 'utf8', timeout: 30_000 },
    );
    if (create.status !== 0) throw new Error(`redis-cli --cluster create failed:\n${create.stdout}${create.stderr}`);
  } catch (error) {
    await stop();
    throw error;
  }

  const masters = () =>
    live()
      .map((n) => n.port)
      .filter((port) => /role:master/.test(cli(port, 'INFO', 'replication')));

  const waitUntilHealthy = async (timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const alive = live().map((n) => n.port);
      const ok = alive.every((port) => cli(port, 'CLUSTER', 'INFO').includes('cluster_state:ok'));
      const serving = masters().filter((port) => /cluster_slots_ok:16384/.test(cli(port, 'CLUSTER', 'INFO')));
      if (ok && serving.length >= 3) return;
      if (Date.now() > deadline) throw new Error(`Redis Cluster not healthy within ${timeoutMs} ms`);
      await sleep(200);
    }
  };

  try {
    await waitUntilHealthy();
    // Every replica must have synced before a failover can promote it.
    const deadline = Date.now() + 20_000;
    while (
      live().some(
        (n) =>
          /role:slave/.test(cli(n.port, 'INFO', 'replication')) &&
          !/master_link_status:up/.test(cli(n.port, 'INFO', 'replication')),
      )
    ) {
      if (Date.now() > deadline) throw new Error('Redis Cluster replicas did not sync in time');
      await sleep(200);
    }
  } catch (error) {
    await stop();
    throw error;
  }

  const masterOf = (key: string): number => {
    const slot = Number(cli(masters()[0], 'CLUSTER', 'KEYSLOT', key).trim());
    for (const port of masters()) {
      const own = cli(port, 'CLUSTER', 'NODES')
        .split('\n')
        .find((line) => line.includes('myself'));
      const ranges = (own ?? '').trim().split(' ').slice(8);
      for (const range of ranges) {
        const [from, to = from] = range.split('-').map(Number);
        if (slot >= from && slot <= to) return port;
      }
    }
    throw new Error(`no live master serves slot ${slot} of ${key}`);
  };

  return {
    url: `redis+cluster://${ports.map((p) => `127.0.0.1:${p}`).join(',')}`,
    ports,
    cli,
    masters,
    masterOf,
    kill: (port: number) =>
      new Promise<void>((resolve) => {
        const node = nodes.get(port);
        if (!node || node.process.exitCode !== null || node.process.signalCode !== null) return resolve();
        node.process.once('exit', () => resolve());
        node.process.kill('SIGKILL');
      }),
    waitUntilHealthy,
    stop,
  };
}
