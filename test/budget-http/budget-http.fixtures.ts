/**
 * Shared pieces of the budget HTTP suites: a policy file with budgets of the suite's choosing, principals unique to
 * a test, a session to post events to, concurrent calls, and reading budgets and usage back over HTTP.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { BudgetConfig, PolicyDocument } from 'nest-agent-policy';
import { signToken, startAgentApi, type Harness } from '../support/agent-api.harness';

export const SHIPPED_POLICY = join(__dirname, '..', '..', 'apps', 'agent-api', 'policy', 'agent-api.policy.yaml');

/** echo-1's price in micro-USD per token: 0.5 USD per 1M input tokens, 1.5 USD per 1M output tokens. */
export const ECHO_PRICE = { input: 0.5, output: 1.5 };

/** Limits so high that no suite here meets them; budgets are what these suites are about. */
export const UNLIMITED_RATES: NonNullable<PolicyDocument['rateLimits']> = {
  strategy: 'sliding-window',
  default: { limit: 1_000_000_000, ttl: 60 },
  anonymous: { limit: 1_000_000_000, ttl: 60 },
  authFailures: { limit: 1_000_000_000, ttl: 60 },
  operations: { 'event.create': { limit: 1_000_000_000, ttl: 60 } },
};

/** The shipped policy with the given budgets and no rate limit in the way. */
export function policyWith(budgets: BudgetConfig): PolicyDocument {
  const shipped = parseYaml(readFileSync(SHIPPED_POLICY, 'utf8')) as PolicyDocument;
  return { ...shipped, rateLimits: UNLIMITED_RATES, budgets };
}

/** agent-api in this process on the given adapter, with these budgets and no rate limit in the way. */
export function startWithBudgets(
  adapter: 'express' | 'fastify',
  budgets: BudgetConfig,
  env: Record<string, string> = {},
): Promise<Harness> {
  return startAgentApi({
    adapter,
    env,
    configure: (config) => {
      config.policy.budgets = budgets;
      config.policy.rateLimits = UNLIMITED_RATES;
    },
  });
}

/** Writes {@link policyWith} to a JSON file for `POLICY_CONFIG`; answers its path. */
export function writePolicyFile(budgets: BudgetConfig): string {
  const dir = mkdtempSync(join(tmpdir(), 'budget-http-'));
  const file = join(dir, 'policy.json');
  writeFileSync(file, JSON.stringify(policyWith(budgets)));
  return file;
}

/** An admin of a tenant of its own, so counters, rate limits and usage of one test never meet another's. */
export function newCaller(): { sub: string; tenant: string; headers: Record<string, string> } {
  const sub = `budget-user-${randomUUID()}`;
  const tenant = `budget-tenant-${randomUUID()}`;
  const token = signToken({ sub, roles: ['admin'], scope: 'admin', tenant_id: tenant }, { expiresIn: '1h' });
  return { sub, tenant, headers: { Authorization: `Bearer ${token}` } };
}

export interface JsonResponse<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
}

/** A JSON request with Node's fetch. */
export async function call<T = Record<string, unknown>>(
  url: string,
  method: 'GET' | 'POST',
  headers: Record<string, string>,
  body?: unknown,
): Promise<JsonResponse<T>> {
  const res = await fetch(url, {
    method,
    headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : {}) as T };
}

/** Creates an agent and a session through the API; answers the session id. */
export async function newSession(url: string, headers: Record<string, string>): Promise<string> {
  const agent = await call<{ id: string }>(`${url}/agents`, 'POST', headers, { name: 'budget agent' });
  if (agent.status !== 201) throw new Error(`POST /agents answered ${agent.status}: ${JSON.stringify(agent.body)}`);
  const session = await call<{ id: string }>(`${url}/sessions`, 'POST', headers, { agentId: agent.body.id });
  if (session.status !== 201)
    throw new Error(`POST /sessions answered ${session.status}: ${JSON.stringify(session.body)}`);
  return session.body.id;
}

export interface BudgetView {
  scope: string;
  period: string;
  unit: string;
  limit: number;
  used: number;
  reserved: number;
  remaining: number;
  resetAt: string;
}

/** `GET /budgets/remaining`, failing loudly on anything but 200. */
export async function remaining(url: string, headers: Record<string, string>): Promise<BudgetView[]> {
  const res = await call<{ budgets: BudgetView[] }>(`${url}/budgets/remaining`, 'GET', headers);
  if (res.status !== 200) throw new Error(`GET /budgets/remaining answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body.budgets;
}

/** The one budget of the given scope, period and unit. */
export function budgetOf(budgets: BudgetView[], scope: string, period: string, unit: string): BudgetView {
  const found = budgets.find((b) => b.scope === scope && b.period === period && b.unit === unit);
  if (!found) throw new Error(`no ${scope} ${period} ${unit} budget in ${JSON.stringify(budgets)}`);
  return found;
}

export interface UsageRow {
  key: string;
  requests: number;
  inputTokens: number;
  outputTokens: number;
  cost: number;
}

/** `GET /usage` with the given query. */
export async function usage(url: string, headers: Record<string, string>, query: string): Promise<UsageRow[]> {
  const res = await call<{ items: UsageRow[] }>(`${url}/usage?${query}`, 'GET', headers);
  if (res.status !== 200) throw new Error(`GET /usage?${query} answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body.items;
}

/** Polls `GET /usage` until the ledger holds `requests` rows (it is written off the request path). */
export async function usageOnceFlushed(
  url: string,
  headers: Record<string, string>,
  query: string,
  requests: number,
  timeoutMs = 10_000,
): Promise<UsageRow[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = await usage(url, headers, query);
    const seen = rows.reduce((sum, r) => sum + r.requests, 0);
    if (seen >= requests || Date.now() > deadline) return rows;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export interface EventUsage {
  inputTokens: number;
  outputTokens: number;
  cost: number;
}

/** What a 201 from `POST /sessions/:id/events` carries. */
export interface EventReply {
  event: { id: string; message: string };
  reply: { id: string; message: string };
  usage: EventUsage;
}

/**
 * Sends `count` budgeted calls spread over `urls` (round robin), all in flight at once; answers the statuses and
 * bodies in order. A call whose connection fails answers status 0.
 */
export async function postEventsConcurrently(
  urls: string[],
  sessionId: string,
  headers: Record<string, string>,
  count: number,
  message = 'hello budget',
): Promise<Array<JsonResponse<Partial<EventReply> & { code?: string }>>> {
  return Promise.all(
    Array.from({ length: count }, (_, i) =>
      call<Partial<EventReply> & { code?: string }>(
        `${urls[i % urls.length]}/sessions/${sessionId}/events`,
        'POST',
        headers,
        {
          message,
        },
      ).catch(() => ({ status: 0, headers: new Headers(), body: {} })),
    ),
  );
}

/** USD to integer micro-USD, for exact sums. */
export const micro = (usd: number): number => Math.round(usd * 1_000_000);
