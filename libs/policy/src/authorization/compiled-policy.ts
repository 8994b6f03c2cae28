import type { PolicyDocument, RateLimitRule, ScopeDefinition } from '../policy-module-options.interface';
import { AGENT_OPERATIONS, isOperationName } from './agent-operation';
import { matchesOperation, patternMatchesAny } from './operation-matcher';
import { compileRoles, type CompiledRole } from './role-resolver';
import { validateScopes } from './scope-expander';
import { validateBudgetConfig } from '../budget/budget-config.validator';
import { assertPolicyDocument } from '../schema/policy-schema.validator';
import { resolveApiKeyConfig } from '../authentication/api-key.options';

/** The policy document checked and pre-computed once at init; decisions read only this. */
export interface CompiledPolicy {
  readonly document: PolicyDocument;
  readonly operations: readonly string[];
  readonly roles: ReadonlyMap<string, CompiledRole>;
  readonly scopes: Record<string, ScopeDefinition>;
}

function checkRule(rule: RateLimitRule | undefined, key: string): void {
  if (rule === undefined) return;
  if (rule === null || typeof rule !== 'object') throw new Error(`${key} must be an object with limit and ttl`);
  if (!Number.isInteger(rule.limit) || rule.limit < 1) throw new Error(`${key}.limit must be a positive integer`);
  if (typeof rule.ttl !== 'number' || !(rule.ttl > 0) || !Number.isFinite(rule.ttl))
    throw new Error(`${key}.ttl must be a positive number of seconds`);
  if (rule.blockDuration !== undefined && !(rule.blockDuration >= 0)) {
    throw new Error(`${key}.blockDuration must be zero or more seconds`);
  }
}

/**
 * Validates the policy document and compiles it: first its shape against the schema (every key known at every
 * depth, every value of its type), then what a schema cannot say (inherited roles exist, patterns match operations).
 * `extraKnownKeys` are top-level keys the caller has checked itself (module options beside the document).
 * @throws Error whose message names the offending key (`rateLimits.defualt: unknown key (did you mean "default"?)`,
 * `roles.operator.inherits[0]: unknown role "x"`).
 */
export function compilePolicy(document: PolicyDocument, extraKnownKeys: readonly string[] = []): CompiledPolicy {
  if (document !== null && typeof document === 'object' && !Array.isArray(document) && extraKnownKeys.length > 0) {
    const own = Object.fromEntries(Object.entries(document).filter(([key]) => !extraKnownKeys.includes(key)));
    assertPolicyDocument(own);
  } else {
    assertPolicyDocument(document);
  }
  if (!document.roles || typeof document.roles !== 'object') throw new Error('roles: at least one role is required');

  const extra = document.operations ?? [];
  if (!Array.isArray(extra)) throw new Error('operations must be a list of operation names');
  extra.forEach((op, i) => {
    if (typeof op !== 'string' || !isOperationName(op)) {
      throw new Error(`operations[${i}]: "${String(op)}" is not an operation name (resource.action)`);
    }
  });
  const operations = [...new Set([...AGENT_OPERATIONS, ...extra])];
  const roles = compileRoles(document.roles, operations);
  const scopes = document.scopes ?? {};
  validateScopes(scopes);

  const rl = document.rateLimits;
  if (rl !== undefined && rl !== null) {
    if (typeof rl !== 'object') throw new Error('rateLimits must be an object');
    const strategies = ['sliding-log', 'exact', 'fixed-window', 'sliding-window', 'token-bucket'];
    if (rl.strategy !== undefined && !strategies.includes(rl.strategy)) {
      throw new Error(`rateLimits.strategy must be one of ${strategies.join(', ')}`);
    }
    checkRule(rl.default, 'rateLimits.default');
    checkRule(rl.anonymous, 'rateLimits.anonymous');
    checkRule(rl.authFailures, 'rateLimits.authFailures');
    for (const [op, rule] of Object.entries(rl.operations ?? {})) {
      if (!patternMatchesAny(op, operations) || op.includes('*')) {
        throw new Error(`rateLimits.operations.${op}: unknown operation`);
      }
      checkRule(rule, `rateLimits.operations.${op}`);
    }
    for (const [tier, def] of Object.entries(rl.tiers ?? {})) {
      if (!def || typeof def.multiplier !== 'number' || !(def.multiplier > 0) || !Number.isFinite(def.multiplier)) {
        throw new Error(`rateLimits.tiers.${tier}.multiplier must be a positive number`);
      }
    }
    if (rl.failMode !== undefined && rl.failMode !== 'open' && rl.failMode !== 'closed') {
      throw new Error(`rateLimits.failMode must be "open" or "closed"`);
    }
  }

  const approvalOps = document.approvals?.operations ?? [];
  if (!Array.isArray(approvalOps)) throw new Error('approvals.operations must be a list of operation patterns');
  approvalOps.forEach((op, i) => {
    if (!patternMatchesAny(op, operations))
      throw new Error(`approvals.operations[${i}]: "${op}" matches no known operation`);
  });

  const maxPending = document.approvals?.maxPendingPerPrincipal;
  if (maxPending !== undefined && (!Number.isSafeInteger(maxPending) || maxPending < 1)) {
    throw new Error('approvals.maxPendingPerPrincipal must be a positive integer');
  }
  resolveApiKeyConfig(document.apiKeys);

  validateBudgetConfig(document.budgets ?? undefined, document.pricing ?? undefined);

  return { document, operations, roles, scopes };
}

/** Whether the document's `approvals.operations` make `operation` need a human approval. */
export function operationNeedsApproval(compiled: CompiledPolicy, operation: string): boolean {
  return (compiled.document.approvals?.operations ?? []).some((pattern) => matchesOperation(pattern, operation));
}

/** The approval lifetime the document sets (`approvals.ttl`, seconds) in ms; undefined leaves the store's default. */
export function approvalTtlMs(compiled: CompiledPolicy): number | undefined {
  const ttl = compiled.document.approvals?.ttl;
  return ttl === undefined ? undefined : ttl * 1000;
}
