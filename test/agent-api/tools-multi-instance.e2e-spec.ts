/**
 * Tool limits hold across instances: two agent-api processes sharing one PostgreSQL database and Redis admit
 * exactly `rateLimits.tools.search_kb` calls of one principal per window, and exactly as many `create_ticket`
 * calls as its cost budget allows, with the calls spread over both. The tickets table and its migration run on
 * PostgreSQL.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { signToken } from '../support/agent-api.harness';
import { startAgentApiProcess, type AgentApiProcess } from '../support/agent-api.process';
import { REDIS_URL, createTestDatabase, itWith } from '../support/services';

const TOOL_LIMIT = 10;
const TICKETS = 12;
const CALLS = 30;

describe('tool rate limits and tool budgets across two processes (PostgreSQL + Redis)', () => {
  const it = itWith('postgres', 'redis');
  let dir: string | undefined;
  let drop: (() => Promise<void>) | undefined;
  const processes: AgentApiProcess[] = [];
  const tenant = `tools-${randomUUID()}`;
  const admin = {
    Authorization: `Bearer ${signToken({ roles: ['admin'], scope: 'admin', tenant_id: tenant }, { expiresIn: '1h' })}`,
  };
  const operator = {
    Authorization: `Bearer ${signToken({ sub: `op-${randomUUID()}`, roles: ['operator'], scope: 'sessions:write tools:write', tenant_id: tenant }, { expiresIn: '1h' })}`,
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tools-multi-'));
    const policy = parse(readFileSync(join(__dirname, '../../apps/agent-api/policy/agent-api.policy.yaml'), 'utf8'));
    policy.rateLimits = {
      ...policy.rateLimits,
      tools: { ...policy.rateLimits.tools, search_kb: { limit: TOOL_LIMIT, ttl: 60 } },
    };
    policy.budgets = { principal: { day: { requests: TICKETS } } };
    const policyFile = join(dir, 'policy.json');
    writeFileSync(policyFile, JSON.stringify(policy));
    const db = await createTestDatabase('toolsmulti');
    drop = db.drop;
    const env = { DATABASE_URL: db.url, REDIS_URL, POLICY_CONFIG: policyFile };
    // One after the other: the first applies the migrations.
    processes.push(await startAgentApiProcess(env));
    processes.push(await startAgentApiProcess(env));
  }, 90_000);

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop()));
    if (drop) await drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  async function post(url: string, path: string, headers: Record<string, string>, body: unknown) {
    const res = await fetch(`${url}${path}`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  }

  it(`admits exactly ${TOOL_LIMIT} search_kb and ${TICKETS} create_ticket calls of ${CALLS} each, spread over both`, async () => {
    expect(processes.map((p) => p.output()).join('\n')).toContain('redis stores');
    const [a, b] = processes.map((p) => p.url);
    const agent = await post(a, '/agents', admin, { name: 'support' });
    const customer = await post(b, '/customers', admin, { name: 'Ada' });
    const session = await post(a, '/sessions', operator, { agentId: agent.body.id, customerId: customer.body.id });
    expect(session.status).toBe(201);
    const sid = session.body.id as string;

    const searches = await Promise.all(
      Array.from({ length: CALLS }, (_, i) =>
        post(i % 2 ? a : b, `/sessions/${sid}/tools/search_kb`, operator, { args: { query: 'refund' } }),
      ),
    );
    expect(searches.filter((r) => r.status === 200)).toHaveLength(TOOL_LIMIT);
    expect(searches.filter((r) => r.status === 429)).toHaveLength(CALLS - TOOL_LIMIT);

    const args = { customer_id: customer.body.id, subject: 'Refund', description: 'Order 42', priority: 'normal' };
    const tickets = await Promise.all(
      Array.from({ length: CALLS }, (_, i) =>
        post(i % 2 ? a : b, `/sessions/${sid}/tools/create_ticket`, operator, { args }),
      ),
    );
    const created = tickets.filter((r) => r.status === 200);
    expect(created).toHaveLength(TICKETS);
    expect(new Set(created.map((r) => r.body.result.id)).size).toBe(TICKETS);
    expect(created.every((r) => r.body.result.tenantId === tenant)).toBe(true);
    const refused = tickets.filter((r) => r.status === 402);
    expect(refused).toHaveLength(CALLS - TICKETS);
    expect(refused[0].body).toMatchObject({ code: 'budget_exceeded', scope: 'principal', unit: 'requests' });
  }, 60_000);
});
