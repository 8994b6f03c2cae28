/**
 * SIGTERM with a run in progress, on the built app as a real process: the run stops with `shutdown` after its
 * current step, every step it took is settled (counters and usage ledger agree), and nothing is left reserved.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { startAgentApiProcess } from '../support/agent-api.process';
import { call, newCaller, newSession, policyWith } from '../budget-http/budget-http.fixtures';

describe('agent runs on SIGTERM', () => {
  it('stop with shutdown, their usage settled and nothing left reserved', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'runs-sigterm-'));
    const file = join(dir, 'db.sqlite');
    const policy = join(dir, 'policy.json');
    writeFileSync(
      policy,
      JSON.stringify({ ...policyWith({ principal: { day: { cost: 100 } } }), runs: { maxSteps: 1_000_000 } }),
    );
    try {
      const app = await startAgentApiProcess({ DATABASE_URL: `sqlite:${file}`, POLICY_CONFIG: policy });
      const caller = newCaller();
      let runId: string;
      try {
        const session = await newSession(app.url, caller.headers);
        const created = await call<{ id: string }>(`${app.url}/sessions/${session}/runs`, 'POST', caller.headers, {
          steps: [{ message: 'keep going' }],
          repeat: true,
        });
        expect(created.status).toBe(202);
        runId = created.body.id;
        for (let steps = 0; steps < 3;) {
          await new Promise((resolve) => setTimeout(resolve, 50));
          steps = (await call<{ steps: unknown[] }>(`${app.url}/runs/${runId}`, 'GET', caller.headers)).body.steps
            .length;
        }
      } finally {
        await app.stop('SIGTERM');
      }

      const db = await new DataSource({ type: 'better-sqlite3', database: file }).initialize();
      try {
        const [run] = await db.query<Array<{ status: string; stop_reason: string; steps: string }>>(
          'SELECT status, stop_reason, steps FROM runs WHERE id = ?',
          [runId],
        );
        expect(run).toMatchObject({ status: 'stopped', stop_reason: 'shutdown' });
        const steps = (JSON.parse(run.steps) as unknown[]).length;
        expect(steps).toBeGreaterThanOrEqual(3);
        const [counters] = await db.query<Array<{ reserved: number; used: number }>>(
          'SELECT COALESCE(SUM(reserved), 0) AS reserved, COALESCE(SUM(used), 0) AS used FROM policy_budget_counters WHERE key LIKE ?',
          [`principal:%${caller.sub}:%`],
        );
        const [open] = await db.query<Array<{ n: number }>>(
          "SELECT COUNT(*) AS n FROM policy_budget_reservations WHERE state = 'reserved'",
        );
        const [ledger] = await db.query<
          Array<{
            n: number;
            cost: number;
          }>
        >(
          'SELECT COUNT(*) AS n, COALESCE(SUM(cost_micro_usd), 0) AS cost FROM policy_usage_ledger WHERE principal_id = ?',
          [caller.sub],
        );
        expect(Number(counters.reserved)).toBe(0);
        expect(Number(open.n)).toBe(0);
        expect(Number(ledger.n)).toBe(steps);
        expect(Number(counters.used)).toBe(Number(ledger.cost));
      } finally {
        await db.destroy();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
