/**
 * `GET /health` (liveness) answers even while the database hangs: a query that never returns counts as down after
 * the readiness timeout (503 `unavailable`, `database: down`) instead of holding every probe open — on Express and
 * Fastify. Once the database answers again, the next check after the reuse window says so.
 */
import { DataSource } from 'typeorm';
import { startAgentApi, type Harness } from '../support/agent-api.harness';

describe.each(['express', 'fastify'] as const)('liveness while the database hangs (%s)', (adapter) => {
  let h: Harness;

  beforeAll(async () => {
    h = await startAgentApi({ adapter });
  }, 60_000);
  afterAll(() => h?.close());

  it('answers 503 database: down within the timeout, then 200 once the database is back', async () => {
    expect((await h.http().get('/health')).status).toBe(200);
    await new Promise((r) => setTimeout(r, 300));
    const dataSource = h.app.get(DataSource);
    const query = jest.spyOn(dataSource, 'query').mockImplementation(() => new Promise<never>(() => undefined));
    try {
      const started = Date.now();
      const res = await h.http().get('/health').timeout(5000);
      expect(res.status).toBe(503);
      expect(res.body).toMatchObject({ statusCode: 503, code: 'unavailable', database: 'down' });
      expect(Date.now() - started).toBeLessThan(4000);
    } finally {
      query.mockRestore();
    }
    await new Promise((r) => setTimeout(r, 300));
    const back = await h.http().get('/health');
    expect(back.status).toBe(200);
    expect(back.body.database).toBe('up');
  });
});
