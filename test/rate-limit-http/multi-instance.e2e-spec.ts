/**
 * Limits hold across instances: two agent-api processes share one Redis; requests spread over both admit exactly
 * `limit` per window, not `2 × limit`.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { parse } from 'yaml';
import { signToken } from '../support/agent-api.harness';
import { startAgentApiProcess, type AgentApiProcess } from '../support/agent-api.process';
import { REDIS_URL, redisTestPrefix, itWith } from '../support/services';

const LIMIT = 25;

describe('rate limits across two processes sharing Redis', () => {
  const it = itWith('redis');
  let dir: string;
  const { prefix, cleanup } = redisTestPrefix('rl-multi');
  const processes: AgentApiProcess[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rl-multi-'));
    const policy = parse(readFileSync(join(__dirname, '../../apps/agent-api/policy/agent-api.policy.yaml'), 'utf8'));
    policy.rateLimits = { ...policy.rateLimits, keyPrefix: prefix, default: { limit: LIMIT, ttl: 60 } };
    const policyFile = join(dir, 'policy.json');
    writeFileSync(policyFile, JSON.stringify(policy));
    for (const name of ['a', 'b']) {
      processes.push(
        await startAgentApiProcess({
          DATABASE_URL: `sqlite:${join(dir, `${name}.sqlite`)}`,
          REDIS_URL,
          POLICY_CONFIG: policyFile,
        }),
      );
    }
  }, 60_000);

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop()));
    if (dir) {
      const redis = new Redis(REDIS_URL);
      await cleanup(redis);
      redis.disconnect();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it(`admits exactly ${LIMIT} of ${LIMIT * 3} requests spread over both`, async () => {
    const auth = `Bearer ${signToken({ roles: ['operator'], scope: 'agents:read' })}`;
    const responses = await Promise.all(
      Array.from({ length: LIMIT * 3 }, (_, i) =>
        fetch(`${processes[i % 2].url}/agents`, { headers: { Authorization: auth } }).then(async (r) => ({
          status: r.status,
          body: (await r.json()) as { code?: string },
        })),
      ),
    );
    const ok = responses.filter((r) => r.status === 200);
    const limited = responses.filter((r) => r.status === 429);
    expect(ok).toHaveLength(LIMIT);
    expect(limited).toHaveLength(LIMIT * 2);
    expect(limited.every((r) => r.body.code === 'rate_limited')).toBe(true);
  });
});
