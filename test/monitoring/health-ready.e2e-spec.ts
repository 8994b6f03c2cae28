/**
 * `GET /health/ready` (SPEC §14): public, checks the database and Redis when configured, and answers 503
 * `unavailable` naming the one that is down; `GET /health` stays the public liveness probe.
 */
import { startAgentApi, type Harness } from '../support/agent-api.harness';
import { createTestDatabase, itWith } from '../support/services';
import { freePort, ownRedis, type OwnRedis } from './own-redis';

async function until<T>(probe: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (ok(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.each(['express', 'fastify'] as const)('readiness (%s)', (adapter) => {
  let redis: OwnRedis;
  let h: Harness;

  beforeAll(async () => {
    redis = ownRedis(await freePort());
    await redis.start();
    h = await startAgentApi({ adapter, env: { REDIS_URL: redis.url } });
  }, 60_000);
  afterAll(async () => {
    await h?.close();
    await redis?.stop();
  });

  it('is ready when the database and Redis answer, without credentials', async () => {
    const res = await h.http().get('/health/ready').expect(200);
    expect(res.body).toEqual({ status: 'ready', checks: { database: 'up', redis: 'up' } });
  });

  it('answers 503 unavailable naming Redis while it is down, and recovers when it is back', async () => {
    await redis.stop();
    const down = await h.http().get('/health/ready');
    expect(down.status).toBe(503);
    expect(down.body).toMatchObject({
      statusCode: 503,
      code: 'unavailable',
      message: 'Not ready: redis is down',
      down: ['redis'],
      checks: { database: 'up', redis: 'down' },
    });
    await redis.start();
    const back = await until(
      () => h.http().get('/health/ready'),
      (r) => r.status === 200,
    );
    expect(back.body).toEqual({ status: 'ready', checks: { database: 'up', redis: 'up' } });
  });
});

describe('readiness without Redis, and with the database gone', () => {
  it('reports Redis as disabled when none is configured', async () => {
    const h = await startAgentApi();
    try {
      const res = await h.http().get('/health/ready').expect(200);
      expect(res.body).toEqual({ status: 'ready', checks: { database: 'up', redis: 'disabled' } });
    } finally {
      await h.close();
    }
  });

  itWith('postgres')('answers 503 naming the database when PostgreSQL no longer has it', async () => {
    const db = await createTestDatabase('ready');
    const h = await startAgentApi({ env: { DATABASE_URL: db.url } });
    try {
      await h.http().get('/health/ready').expect(200);
      await db.drop(); // terminates the app's connections; reconnecting fails
      const res = await h.http().get('/health/ready');
      expect(res.status).toBe(503);
      expect(res.body).toMatchObject({
        code: 'unavailable',
        message: 'Not ready: database is down',
        checks: { database: 'down', redis: 'disabled' },
      });
    } finally {
      await h.close().catch(() => undefined);
    }
  });
});
