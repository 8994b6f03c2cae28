import type { Principal } from '../authentication/principal.interface';
import type { CompiledPolicy } from './compiled-policy';
import type { CompiledRole } from './role-resolver';
import type { PermissionDecision } from './policy-context.interface';
import type { RecordScope } from './tenant.rules';
import { matchesOperation } from './operation-matcher';
import { expandScopes, scopeCovers } from './scope-expander';

/**
 * What one set of roles decides for one operation, computed once per (role set, operation) and then only read.
 * `denied` is the shared, frozen denial; `bare` the shared, frozen grant for a principal without tenant whose grant
 * is not owner-only (any other grant carries the principal's own record scope, built per call).
 */
export interface OperationOutcome {
  readonly allowed: boolean;
  readonly ownOnly: boolean;
  readonly reasons: readonly string[];
  readonly denied: PermissionDecision | null;
  readonly bare: PermissionDecision | null;
}

/** The roles a principal holds, as known to the policy: their outcome for every operation, by operation index. */
export interface RoleSet {
  readonly outcomes: readonly OperationOutcome[];
}

/**
 * The decisions kept for a frozen principal under its id (the library's authentication freezes principals; a cached
 * token's is reused as is, an API key's is rebuilt per request with the same content). Per operation index: the
 * required scopes asked (a private copy, compared by content) and the frozen decision given. They hold for any
 * principal of this id with the same roles, scopes and tenant.
 */
export interface PrincipalSlot {
  readonly principal: Principal;
  readonly roles: readonly string[];
  readonly scopes: readonly string[];
  readonly tenantId: string | null;
  readonly set: RoleSet;
  readonly unknownRole: boolean;
  readonly required: (readonly string[] | undefined)[];
  readonly decisions: (PermissionDecision | undefined)[];
}

/** A granted scope with its `implies` expanded, and which required scopes it covers (filled as they are asked). */
interface GrantedScope {
  readonly expanded: readonly string[];
  readonly covers: Map<string, boolean>;
}

/** Caches keyed by what a token carries stop growing here; past it, answers are computed without being kept. */
const MAX_CACHED_ROLE_SETS = 4096;
const MAX_CACHED_GRANTS = 4096;
const MAX_CACHED_REQUIRED = 1024;
export const MAX_CACHED_PRINCIPALS = 4096;
/** Role sets are keyed by a bit mask of the roles held while the policy has at most this many roles. */
const MASK_BITS = 30;

const EMPTY_SCOPE: RecordScope = Object.freeze({});

/**
 * The compiled policy turned into lookup tables for {@link decidePermission}: operations interned to indexes, roles
 * to bits, each role set's outcome per operation, each granted scope's expansion. Every map keyed by a name from a
 * token or a route is a `Map` (names such as `__proto__` or `constructor` are plain keys), and the ones a token can
 * grow are bounded.
 */
export class DecisionIndex {
  readonly operationIndex = new Map<string, number>();
  private readonly operations: readonly string[];
  private readonly roleList: readonly CompiledRole[];
  private readonly roleBit = new Map<string, number>();
  private readonly roleSetsByMask = new Map<number, RoleSet>();
  private readonly roleSetsByKey = new Map<string, RoleSet>();
  private readonly grants = new Map<string, GrantedScope>();
  /** The decisions kept per principal id, for at most {@link MAX_CACHED_PRINCIPALS} ids (then started afresh). */
  readonly principals = new Map<string, PrincipalSlot>();
  readonly operationCount: number;
  /** The required scopes whose coverage is kept per granted scope (route scopes: few; bounded all the same). */
  private readonly requiredSeen = new Set<string>();

  constructor(private readonly policy: CompiledPolicy) {
    this.operations = policy.operations;
    this.operationCount = policy.operations.length;
    policy.operations.forEach((op, i) => {
      if (!this.operationIndex.has(op)) this.operationIndex.set(op, i);
    });
    this.roleList = [...policy.roles.values()];
    this.roleList.forEach((role, i) => this.roleBit.set(role.name, i));
  }

  /** Index of a role name in the policy, or -1 for a role the policy does not define. */
  roleIndex(name: string): number {
    const i = this.roleBit.get(name);
    return i === undefined ? -1 : i;
  }

  /** True when role sets are keyed by a bit mask (at most {@link MASK_BITS} roles). */
  get masked(): boolean {
    return this.roleList.length <= MASK_BITS;
  }

  /** The role set of the roles whose bits are set in `mask` (policies of at most {@link MASK_BITS} roles). */
  roleSetByMask(mask: number): RoleSet {
    let set = this.roleSetsByMask.get(mask);
    if (set === undefined) {
      const members: CompiledRole[] = [];
      for (let i = 0; i < this.roleList.length; i++) if ((mask & (1 << i)) !== 0) members.push(this.roleList[i]);
      set = this.buildRoleSet(members);
      if (this.roleSetsByMask.size < MAX_CACHED_ROLE_SETS) this.roleSetsByMask.set(mask, set);
    }
    return set;
  }

  /** The role set of the known roles among `held`, for policies with more roles than a mask holds. */
  roleSetOf(held: readonly string[]): RoleSet {
    const indexes = [...new Set(held.map((name) => this.roleIndex(name)).filter((i) => i >= 0))].sort((a, b) => a - b);
    const key = indexes.join(',');
    let set = this.roleSetsByKey.get(key);
    if (set === undefined) {
      set = this.buildRoleSet(indexes.map((i) => this.roleList[i]));
      if (this.roleSetsByKey.size < MAX_CACHED_ROLE_SETS) this.roleSetsByKey.set(key, set);
    }
    return set;
  }

  private buildRoleSet(members: readonly CompiledRole[]): RoleSet {
    const names = members.map((role) => role.name).join(', ');
    const outcomes = this.operations.map((operation): OperationOutcome => {
      const allowing = members.filter((role) => role.patterns.some((p) => matchesOperation(p, operation)));
      if (allowing.length === 0) {
        const reasons = Object.freeze([`no role of [${names}] allows ${operation}`]);
        const denied = Object.freeze({ allowed: false, code: 'forbidden' as const, reasons, recordScope: EMPTY_SCOPE });
        return { allowed: false, ownOnly: false, reasons, denied, bare: null };
      }
      const ownOnly = allowing.every((role) => role.own);
      const reasons = Object.freeze([`role ${allowing.map((role) => role.name).join(', ')} allows ${operation}`]);
      const bare = ownOnly ? null : Object.freeze({ allowed: true, reasons, recordScope: EMPTY_SCOPE });
      return { allowed: true, ownOnly, reasons, denied: null, bare };
    });
    return { outcomes };
  }

  /** True when one of `granted` (each expanded through `implies`) covers `required`. */
  grantCovers(granted: readonly string[], required: string): boolean {
    for (let i = 0; i < granted.length; i++) {
      if (this.grantedScope(granted[i]).covers.get(required) ?? this.learn(granted[i], required)) return true;
    }
    return false;
  }

  private grantedScope(name: string): GrantedScope {
    let grant = this.grants.get(name);
    if (grant === undefined) {
      grant = { expanded: [...expandScopes([name], this.policy.scopes)], covers: new Map() };
      if (this.grants.size < MAX_CACHED_GRANTS) this.grants.set(name, grant);
    }
    return grant;
  }

  /** Computes whether `granted` covers `required`, keeping the answer while the required scopes seen stay few. */
  private learn(granted: string, required: string): boolean {
    const grant = this.grantedScope(granted);
    let covered = false;
    for (const scope of grant.expanded) {
      if (scopeCovers(scope, required)) {
        covered = true;
        break;
      }
    }
    if (!this.requiredSeen.has(required) && this.requiredSeen.size < MAX_CACHED_REQUIRED)
      this.requiredSeen.add(required);
    if (this.requiredSeen.has(required)) grant.covers.set(required, covered);
    return covered;
  }
}

let lastPolicy: CompiledPolicy | null = null;
let lastIndex: DecisionIndex | null = null;
const indexes = new WeakMap<CompiledPolicy, DecisionIndex>();

/** The lookup tables of a compiled policy, built on first use and kept as long as the policy. */
export function decisionIndexOf(policy: CompiledPolicy): DecisionIndex {
  if (policy === lastPolicy) return lastIndex as DecisionIndex;
  let index = indexes.get(policy);
  if (index === undefined) {
    index = new DecisionIndex(policy);
    indexes.set(policy, index);
  }
  lastPolicy = policy;
  lastIndex = index;
  return index;
}
