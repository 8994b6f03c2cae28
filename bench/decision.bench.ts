/**
 * The pure permission decision on one core, side by side with @casl/ability: the same decisions (operation + roles +
 * one required scope) through `decidePermission` on a compiled policy and through `ability.can(action, subject)` on
 * CASL abilities built beforehand. A mixed workload: grants and denials, several roles per principal, own-only roles,
 * tenants, wildcard operations (`*`, `agent.*`), scopes through `implies` and `ns:*`, an unknown role.
 *
 * Two ways of calling each: (1) the principal object reused, as a cached token's principal is; (2) a fresh principal
 * object per decision (fresh strings too, as a token parsed for each request gives), where CASL finds the
 * principal's prebuilt ability by a key of its roles and scopes — what a server holding one ability per role set
 * has to do. Before timing, both paths must agree on every decision of the workload. Warm-up, then interleaved
 * rounds; the figure is the median decisions/s.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createMongoAbility, type MongoAbility } from '@casl/ability';
import { compilePolicy, decidePermission, expandScopes, type PolicyDocument, type Principal } from 'nest-agent-policy';

const DOCUMENT: PolicyDocument = {
  roles: {
    admin: { operations: ['*'] },
    operator: { operations: ['agent.*', 'session.*', 'tool.list'] },
    support: { operations: ['customer.read', 'customer.list', 'session.read', 'session.list'] },
    customer: { operations: ['session.create', 'session.read', 'event.create', 'event.list'], own: true },
    auditor: { operations: ['audit.read', 'usage.read', 'metrics.read'] },
    billing: { operations: ['budget.*', 'usage.read'], inherits: ['auditor'] },
  },
  scopes: {
    'agents:write': { implies: ['agents:read'] },
    'sessions:write': { implies: ['sessions:read'] },
    'customers:write': { implies: ['customers:read'] },
    admin: { implies: ['*'] },
  },
};

/** [operation, the one scope its route requires] */
const OPERATIONS: [string, string][] = [
  ['agent.read', 'agents:read'],
  ['agent.delete', 'agents:write'],
  ['agent.update', 'agents:write'],
  ['session.create', 'sessions:write'],
  ['session.read', 'sessions:read'],
  ['customer.read', 'customers:read'],
  ['customer.delete', 'customers:write'],
  ['event.list', 'sessions:read'],
  ['audit.read', 'audit:read'],
  ['usage.read', 'usage:read'],
  ['budget.update', 'budgets:write'],
  ['tool.invoke', 'tools:invoke'],
];

interface Holder {
  roles: string[];
  scopes: string[];
  tenantId: string | null;
}

const HOLDERS: Holder[] = [
  { roles: ['admin'], scopes: ['admin'], tenantId: null },
  { roles: ['operator'], scopes: ['agents:write', 'sessions:read'], tenantId: 't1' },
  { roles: ['operator', 'auditor'], scopes: ['agents:*', 'audit:read', 'sessions:write'], tenantId: 't1' },
  { roles: ['customer'], scopes: ['sessions:write'], tenantId: 't2' },
  { roles: ['support', 'customer'], scopes: ['customers:read', 'sessions:read'], tenantId: 't2' },
  { roles: ['auditor'], scopes: ['audit:read', 'usage:read'], tenantId: null },
  { roles: ['billing'], scopes: ['budgets:write', 'usage:read'], tenantId: 't3' },
  { roles: ['ghost'], scopes: ['*'], tenantId: 't1' },
  { roles: [], scopes: [], tenantId: 't1' },
];

/** A copy of a string that shares nothing with the original (no cached hash), as a freshly parsed token gives. */
const freshString = (s: string): string => s.split('').join('');

function principalOf(holder: Holder, id: number, fresh: boolean): Principal {
  // fresh: a new id string too, as a parsed token's `sub` is.
  const copy = fresh ? freshString : (s: string) => s;
  // Frozen, as the library's authentication builds them.
  return Object.freeze({
    id: fresh ? freshString(`user-${id}`) : `user-${id}`,
    type: 'user',
    tenantId: holder.tenantId === null ? null : copy(holder.tenantId),
    roles: Object.freeze(holder.roles.map(copy)),
    scopes: Object.freeze(holder.scopes.map(copy)),
    tier: null,
    tokenId: null,
  });
}

/** CASL rules for a principal: its roles' operation patterns as (action, subject), its expanded scopes as `hold`. */
function caslAbilities(
  holder: Holder,
  requiredScopes: readonly string[],
): { roles: MongoAbility; scopes: MongoAbility } {
  const roleRules: { action: string; subject: string }[] = [];
  const seen = new Set<string>();
  const addRole = (name: string): void => {
    if (seen.has(name) || !Object.prototype.hasOwnProperty.call(DOCUMENT.roles, name)) return;
    seen.add(name);
    const role = DOCUMENT.roles[name];
    for (const pattern of role.operations) {
      if (pattern === '*') roleRules.push({ action: 'manage', subject: 'all' });
      else {
        const [resource, action] = pattern.split('.');
        roleRules.push({ action: action === '*' ? 'manage' : action, subject: resource });
      }
    }
    for (const parent of role.inherits ?? []) addRole(parent);
  };
  holder.roles.forEach(addRole);
  const scopeRules: { action: string; subject: string }[] = [];
  for (const scope of expandScopes(holder.scopes, DOCUMENT.scopes ?? {})) {
    if (scope === '*') scopeRules.push({ action: 'hold', subject: 'all' });
    else if (scope.endsWith(':*')) {
      // CASL has no prefix wildcard on subjects: the ability is prebuilt with the scopes it covers.
      for (const req of requiredScopes)
        if (req.startsWith(scope.slice(0, -1))) scopeRules.push({ action: 'hold', subject: req });
    } else scopeRules.push({ action: 'hold', subject: scope });
  }
  return { roles: createMongoAbility(roleRules), scopes: createMongoAbility(scopeRules) };
}

interface Item {
  holder: number;
  operation: string;
  action: string;
  resource: string;
  required: readonly string[];
}

/** Every holder × operation, in a fixed shuffled order. */
function workload(): Item[] {
  const items: Item[] = [];
  HOLDERS.forEach((_, holder) => {
    for (const [operation, scope] of OPERATIONS) {
      const [resource, action] = operation.split('.');
      items.push({ holder, operation, action, resource, required: [scope] });
    }
  });
  let seed = 12345;
  for (let i = items.length - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    const j = seed % (i + 1);
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

let sink = 0;

/**
 * Decisions per CPU second of `run(count)`, which makes `count` decisions and returns how many allowed. CPU time
 * (user + system of this process, garbage collection included) rather than wall time: the machine is shared, and a
 * descheduled process must not count as a slow decision.
 */
function rate(count: number, run: (count: number) => number): number {
  const start = process.cpuUsage();
  sink += run(count);
  const used = process.cpuUsage(start);
  return (count / (used.user + used.system)) * 1e6;
}

export async function decisionBench(o: { rounds: number; duration: number }): Promise<string> {
  const policy = compilePolicy(DOCUMENT);
  const items = workload();
  const allRequired = OPERATIONS.map(([, scope]) => scope);
  const abilities = HOLDERS.map((holder) => caslAbilities(holder, allRequired));
  const reused = HOLDERS.map((holder, i) => principalOf(holder, i, false));
  const abilityKey = (p: Principal): string => `${p.roles.join(',')}|${p.scopes.join(',')}`;
  const abilityByKey = new Map(reused.map((p, i) => [abilityKey(p), abilities[i]]));

  // Parallel arrays of the workload, so that the loops read the same things on both sides.
  const n = items.length;
  const ops = items.map((it) => it.operation);
  const required = items.map((it) => it.required);
  const actions = items.map((it) => it.action);
  const resources = items.map((it) => it.resource);
  const holderOf = items.map((it) => it.holder);
  const principals = items.map((it) => reused[it.holder]);
  const roleAbility = items.map((it) => abilities[it.holder].roles);
  const scopeAbility = items.map((it) => abilities[it.holder].scopes);

  // Both paths give the same answer on every decision of the workload.
  let allowed = 0;
  for (let i = 0; i < n; i++) {
    const ours = decidePermission(policy, principals[i], ops[i], required[i]).allowed;
    const casl =
      roleAbility[i].can(actions[i], resources[i]) && required[i].every((s) => scopeAbility[i].can('hold', s));
    if (ours !== casl)
      throw new Error(`decision differs on ${ops[i]} for holder ${holderOf[i]}: ours ${ours}, CASL ${casl}`);
    if (ours) allowed++;
  }

  const oursReused = (count: number): number => {
    let ok = 0;
    for (let k = 0, i = 0; k < count; k++, i = i + 1 === n ? 0 : i + 1) {
      if (decidePermission(policy, principals[i], ops[i], required[i]).allowed) ok++;
    }
    return ok;
  };
  const caslCan = (
    roles: MongoAbility,
    scopes: MongoAbility,
    action: string,
    resource: string,
    req: readonly string[],
  ): boolean => {
    if (!roles.can(action, resource)) return false;
    for (let j = 0; j < req.length; j++) if (!scopes.can('hold', req[j])) return false;
    return true;
  };
  const caslReused = (count: number): number => {
    let ok = 0;
    for (let k = 0, i = 0; k < count; k++, i = i + 1 === n ? 0 : i + 1) {
      if (caslCan(roleAbility[i], scopeAbility[i], actions[i], resources[i], required[i])) ok++;
    }
    return ok;
  };

  // Fresh principals: one per decision, built before the timed loop.
  const FRESH = 200_000;
  let fresh: Principal[] = [];
  const refresh = (): void => {
    fresh = [];
    // 100 users per profile (900 ids), each decision by a new principal object of one of them.
    for (let k = 0; k < FRESH; k++) {
      const holder = holderOf[k % n];
      fresh.push(principalOf(HOLDERS[holder], holder * 100 + (Math.floor(k / n) % 100), true));
    }
  };
  const oursFresh = (count: number): number => {
    let ok = 0;
    for (let k = 0, i = 0; k < count; k++, i = i + 1 === n ? 0 : i + 1) {
      if (decidePermission(policy, fresh[k], ops[i], required[i]).allowed) ok++;
    }
    return ok;
  };
  const caslFresh = (count: number): number => {
    let ok = 0;
    for (let k = 0, i = 0; k < count; k++, i = i + 1 === n ? 0 : i + 1) {
      const ability = abilityByKey.get(abilityKey(fresh[k]));
      if (ability && caslCan(ability.roles, ability.scopes, actions[i], resources[i], required[i])) ok++;
    }
    return ok;
  };

  // Warm-up (JIT) on every path, then calibrate the reused loops to about a quarter of `duration` / rounds.
  for (let w = 0; w < 3; w++) {
    oursReused(500_000);
    caslReused(500_000);
    refresh();
    oursFresh(FRESH);
    refresh();
    caslFresh(FRESH);
  }
  const budgetMs = Math.max(200, (o.duration * 1000) / 4);
  const perRun = (r: number): number => Math.max(n, Math.round((r * budgetMs) / 1000));
  const reusedCount = perRun(median([rate(1_000_000, oursReused), rate(1_000_000, caslReused)]));

  const results: Record<'oursReused' | 'caslReused' | 'oursFresh' | 'caslFresh', number[]> = {
    oursReused: [],
    caslReused: [],
    oursFresh: [],
    caslFresh: [],
  };
  const rounds = Math.max(3, o.rounds * 3);
  for (let r = 0; r < rounds; r++) {
    const first = r % 2 === 0;
    if (first) results.oursReused.push(rate(reusedCount, oursReused));
    results.caslReused.push(rate(reusedCount, caslReused));
    if (!first) results.oursReused.push(rate(reusedCount, oursReused));
    refresh();
    if (first) results.oursFresh.push(rate(FRESH, oursFresh));
    refresh();
    results.caslFresh.push(rate(FRESH, caslFresh));
    if (!first) {
      refresh();
      results.oursFresh.push(rate(FRESH, oursFresh));
    }
  }
  fresh = [];

  const m = (xs: number[]): number => median(xs);
  const fmt = (x: number): string => `${(x / 1e6).toFixed(2)} M/s`;
  const range = (xs: number[]): string => `${(Math.min(...xs) / 1e6).toFixed(2)}–${(Math.max(...xs) / 1e6).toFixed(2)}`;
  const lines = [
    `#### Pure decision, one core (${n} decisions of ${HOLDERS.length} principals × ${OPERATIONS.length} operations, ` +
      `${allowed} allowed; ${rounds} interleaved rounds, medians; @casl/ability ${caslVersion()})`,
    '',
    '| path | principal reused | fresh principal per decision |',
    '|---|---:|---:|',
    `| decidePermission (compiled policy) | ${fmt(m(results.oursReused))} (${range(results.oursReused)}) | ${fmt(m(results.oursFresh))} (${range(results.oursFresh)}) |`,
    `| CASL \`can()\`, abilities prebuilt | ${fmt(m(results.caslReused))} (${range(results.caslReused)}) | ${fmt(m(results.caslFresh))} (${range(results.caslFresh)}) |`,
    `| decidePermission / CASL | ${(m(results.oursReused) / m(results.caslReused)).toFixed(2)}× | ${(m(results.oursFresh) / m(results.caslFresh)).toFixed(2)}× |`,
  ];
  if (sink < 0) lines.push(String(sink));
  return lines.join('\n');
}

function caslVersion(): string {
  try {
    const file = join(dirname(require.resolve('@casl/ability')), '..', '..', 'package.json');
    return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  } catch {
    return '?';
  }
}
