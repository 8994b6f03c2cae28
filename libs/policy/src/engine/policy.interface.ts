import type { Principal } from '../authentication/principal.interface';

/** What one policy says about a call. `ABSTAIN` means "not my business"; it never allows on its own. */
export type PolicyOutcome = 'ALLOW' | 'DENY' | 'REQUIRE_APPROVAL' | 'ABSTAIN';

/** The outcome of a whole decision: abstentions are resolved, so only these three remain. */
export type PolicyDecisionOutcome = Exclude<PolicyOutcome, 'ABSTAIN'>;

/** Everything a policy may look at. Policies must treat it as read-only. */
export interface PolicyInput {
  readonly principal: Principal;
  /** The dotted operation, e.g. `agent.update`. */
  readonly operation: string;
  /** The record the call touches, when it is known (tenant, owner, state…). */
  readonly resource?: Record<string, unknown>;
  readonly request?: { readonly method: string; readonly path: string; readonly digest?: string };
  /** Anything else the caller wants policies to see (budget state, time of day…). */
  readonly context?: Record<string, unknown>;
}

/** One policy's answer. `code` is the error code to answer with on DENY (`forbidden`, `insufficient_scope`, `not_found`…). */
export interface PolicyVerdict {
  readonly outcome: PolicyOutcome;
  readonly reason: string;
  readonly code?: string;
  readonly details?: Record<string, unknown>;
}

/** A policy evaluator. Lower `priority` runs first; `name` identifies it in reasons and must be unique per engine. */
export interface Policy {
  readonly name: string;
  readonly priority: number;
  evaluate(input: PolicyInput): PolicyVerdict | Promise<PolicyVerdict>;
}

/** What one policy contributed to a decision. */
export interface PolicyReason {
  readonly policy: string;
  readonly outcome: PolicyOutcome;
  readonly reason: string;
  readonly code?: string;
}

/** The combined decision: deny overrides approval overrides allow; nothing allowing means deny. */
export interface PolicyDecision {
  readonly outcome: PolicyDecisionOutcome;
  /** The reason of every policy that ran, in the order they ran. */
  readonly reasons: PolicyReason[];
  /** Name of the policy that denied (`policy-engine` when no policy allowed). Set only on DENY. */
  readonly deniedBy?: string;
  /** Error code of the deciding verdict: DENY defaults to `forbidden`, REQUIRE_APPROVAL to `approval_required`. */
  readonly code?: string;
  /**
   * The `details` of the verdicts that gave any, by policy name: what the caller of the engine needs besides the
   * outcome (the built-in `roles` policy gives the allowed call's `recordScope`, `scopes` the `missing` scopes).
   */
  readonly details?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
}
