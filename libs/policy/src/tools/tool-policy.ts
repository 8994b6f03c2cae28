import type { CompiledPolicy } from '../authorization/compiled-policy';
import { rolesAllowing } from '../authorization/role-resolver';
import type { Principal } from '../authentication/principal.interface';
import type { PolicyDocument, RateLimitConfig, RateLimitRule } from '../policy-module-options.interface';
import { resolveBuckets } from '../rate-limit/rate-limit.buckets';
import type { RateLimitBucket } from '../rate-limit/rate-limit.interfaces';

/** The operation every tool call needs, on top of the tool itself being allowed. */
export const TOOL_INVOKE_OPERATION = 'tool.invoke';

/** The tool part of the policy document, checked against the registered tools and flattened once at boot. */
export interface CompiledToolPolicy {
  /** Role → tool patterns, inherited ones included. */
  readonly roleTools: ReadonlyMap<string, readonly RegExp[]>;
  readonly rateLimits: Readonly<Record<string, RateLimitRule>>;
  readonly approvals: readonly RegExp[];
}

/** The result of {@link decideToolAccess}. */
export interface ToolAccessDecision {
  readonly allowed: boolean;
  readonly reasons: readonly string[];
}

/** `ticket_*` → /^ticket_[a-z0-9_]*$/; `*` matches every tool. */
export function toolPattern(pattern: string): RegExp {
  const body = pattern
    .split('*')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('[a-z0-9_]*');
  return new RegExp(`^${body}$`);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function patternList(value: unknown, key: string, tools: readonly string[]): RegExp[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new Error(`${key} must be a list of tool names or patterns`);
  return value.map((pattern, i) => {
    if (typeof pattern !== 'string' || !/^[a-z0-9_*]{1,64}$/.test(pattern)) {
      throw new Error(`${key}[${i}]: "${String(pattern)}" is not a tool name or pattern`);
    }
    const regex = toolPattern(pattern);
    if (!tools.some((t) => regex.test(t))) throw new Error(`${key}[${i}]: "${pattern}" matches no registered tool`);
    return regex;
  });
}

function checkRule(rule: unknown, key: string): RateLimitRule {
  if (!isObject(rule)) throw new Error(`${key} must be an object with limit and ttl`);
  const { limit, ttl, blockDuration } = rule;
  if (!Number.isInteger(limit) || (limit as number) < 1) throw new Error(`${key}.limit must be a positive integer`);
  if (typeof ttl !== 'number' || !(ttl > 0) || !Number.isFinite(ttl))
    throw new Error(`${key}.ttl must be a positive number of seconds`);
  if (blockDuration !== undefined && !(typeof blockDuration === 'number' && blockDuration >= 0)) {
    throw new Error(`${key}.blockDuration must be zero or more seconds`);
  }
  return rule as unknown as RateLimitRule;
}

/**
 * Checks the document's `roles.*.tools`, `rateLimits.tools` and `approvals.tools` against the registered tools and
 * flattens inherited roles. Pure.
 * @throws Error naming the key (`roles.customer.tools[1]: "refund" matches no registered tool`).
 */
export function compileToolPolicy(document: PolicyDocument, tools: readonly string[]): CompiledToolPolicy {
  const roles = document.roles ?? {};
  const own = new Map<string, RegExp[]>();
  for (const [name, role] of Object.entries(roles))
    own.set(name, patternList(role?.tools, `roles.${name}.tools`, tools));
  const roleTools = new Map<string, RegExp[]>();
  // Inheritance cycles and unknown parents are rejected by the role compiler before this runs.
  const flatten = (name: string, seen: Set<string>): RegExp[] => {
    if (seen.has(name)) return [];
    seen.add(name);
    return [...(own.get(name) ?? []), ...(roles[name]?.inherits ?? []).flatMap((parent) => flatten(parent, seen))];
  };
  for (const name of own.keys()) roleTools.set(name, flatten(name, new Set()));

  const rateLimits: Record<string, RateLimitRule> = {};
  const configured = document.rateLimits?.tools;
  if (configured !== undefined && configured !== null) {
    if (!isObject(configured)) throw new Error('rateLimits.tools must map tool names to { limit, ttl }');
    for (const [tool, rule] of Object.entries(configured)) {
      if (!tools.includes(tool)) throw new Error(`rateLimits.tools.${tool}: unknown tool "${tool}"`);
      rateLimits[tool] = checkRule(rule, `rateLimits.tools.${tool}`);
    }
  }
  const approvals = patternList(document.approvals?.tools, 'approvals.tools', tools);
  return { roleTools, rateLimits, approvals };
}

/**
 * Whether the principal may invoke the tool: one of its roles must allow operation `tool.invoke` and list the
 * tool in `tools`. An unknown tool is denied like a forbidden one. Pure.
 */
export function decideToolAccess(
  compiled: CompiledPolicy,
  tools: CompiledToolPolicy,
  principal: Principal,
  tool: string,
  registered: boolean,
): ToolAccessDecision {
  if (!registered) return { allowed: false, reasons: ['unknown tool'] };
  const invoking = rolesAllowing(compiled.roles, principal.roles, TOOL_INVOKE_OPERATION);
  if (invoking.length === 0) {
    return { allowed: false, reasons: [`no role of [${principal.roles.join(', ')}] allows ${TOOL_INVOKE_OPERATION}`] };
  }
  const allowing = invoking.filter((role) => (tools.roleTools.get(role.name) ?? []).some((p) => p.test(tool)));
  if (allowing.length === 0)
    return { allowed: false, reasons: [`no role of [${principal.roles.join(', ')}] allows tool ${tool}`] };
  return { allowed: true, reasons: [`role ${allowing.map((r) => r.name).join(', ')} allows tool ${tool}`] };
}

/** Whether every call of the tool needs a human approval (`approval: true` or `approvals.tools`). Pure. */
export function toolNeedsApproval(tools: CompiledToolPolicy, tool: string, declared: boolean): boolean {
  return declared || tools.approvals.some((p) => p.test(tool));
}

/**
 * The buckets a tool call is charged against: the principal's buckets for `tool.invoke` (default bucket, plus
 * `rateLimits.operations['tool.invoke']` when set) and the tool's own `rateLimits.tools.<name>` bucket, scaled by
 * the principal's tier. Pure.
 */
export function toolBuckets(
  principal: Principal,
  tool: string,
  config: RateLimitConfig,
  tools: CompiledToolPolicy,
  clientIp: string,
): RateLimitBucket[] {
  const buckets = resolveBuckets(principal, TOOL_INVOKE_OPERATION, config, clientIp);
  const rule = tools.rateLimits[tool];
  if (rule) {
    const tier = principal.tier === null ? undefined : config.tiers?.[principal.tier];
    const multiplier = tier?.multiplier ?? 1;
    buckets.push({
      name: `tool:${tool}`,
      key: `tool:${tool}:${buckets[0].key}`,
      limit: Math.max(1, Math.floor(rule.limit * multiplier)),
      ttlMs: rule.ttl * 1000,
      blockDurationMs: (rule.blockDuration ?? 0) * 1000,
    });
  }
  return buckets;
}
