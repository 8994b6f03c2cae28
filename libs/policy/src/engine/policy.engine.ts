import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { redactString } from '../audit/audit.redaction';
import { POLICY_EVALUATORS } from './engine.constants';
import type {
  Policy,
  PolicyDecision,
  PolicyInput,
  PolicyOutcome,
  PolicyReason,
  PolicyVerdict,
} from './policy.interface';

/** Name under which the engine itself reports the fail-closed denial when no policy allowed. */
export const ENGINE_POLICY_NAME = 'policy-engine';

const OUTCOMES: ReadonlySet<string> = new Set<PolicyOutcome>(['ALLOW', 'DENY', 'REQUIRE_APPROVAL', 'ABSTAIN']);

/**
 * A compiled shortcut for a known set of policies: when exactly `policies` are registered, the engine asks `decide`
 * first and takes its decision, which must be the one running those policies would give; `null` runs them.
 */
export interface PolicyFastPath {
  readonly policies: readonly Policy[];
  decide(input: PolicyInput): PolicyDecision | null;
}

interface Registered {
  readonly policy: Policy;
  readonly order: number;
}

/**
 * Combines {@link Policy} evaluators. Policies run one after the other in priority order (lower first; equal
 * priorities keep their registration order). The first DENY ends the evaluation, since nothing after it can change
 * the outcome; otherwise REQUIRE_APPROVAL beats ALLOW, and a call nobody allowed is denied (fail closed).
 * A policy that throws, rejects or answers something that is not a verdict denies with `policy <name> failed`.
 */
@Injectable()
export class PolicyEngine {
  protected readonly logger = new Logger(PolicyEngine.name);
  private registered: Registered[] = [];
  private sequence = 0;
  private fastPath: PolicyFastPath | null = null;
  private fastPathActive = false;

  constructor(@Optional() @Inject(POLICY_EVALUATORS) policies?: readonly Policy[] | null) {
    for (const policy of policies ?? []) this.register(policy);
  }

  /**
   * Adds a policy.
   * @throws Error when the policy has no name, no finite priority, no `evaluate` method, or a name already registered.
   */
  register(policy: Policy): this {
    const label = typeof policy?.name === 'string' && policy.name ? policy.name : '(unnamed)';
    if (label === '(unnamed)') throw new Error('A policy needs a non-empty "name"');
    if (typeof policy.priority !== 'number' || !Number.isFinite(policy.priority)) {
      throw new Error(`Policy "${label}" needs a finite numeric "priority"`);
    }
    if (typeof policy.evaluate !== 'function') throw new Error(`Policy "${label}" has no evaluate() method`);
    if (this.registered.some((entry) => entry.policy.name === label)) {
      throw new Error(`A policy named "${label}" is already registered`);
    }
    this.registered = [...this.registered, { policy, order: this.sequence++ }].sort(
      (a, b) => a.policy.priority - b.policy.priority || a.order - b.order,
    );
    this.fastPathActive = this.fastPathApplies();
    return this;
  }

  /**
   * Sets the compiled shortcut the engine takes while exactly its policies are registered (registering any other
   * policy turns it off). The library gives its built-in role and scope policies `decidePermission` this way.
   */
  useFastPath(fastPath: PolicyFastPath | null): this {
    this.fastPath = fastPath;
    this.fastPathActive = this.fastPathApplies();
    return this;
  }

  private fastPathApplies(): boolean {
    const expected = this.fastPath?.policies;
    return (
      !!expected &&
      expected.length === this.registered.length &&
      this.registered.every(({ policy }) => expected.includes(policy))
    );
  }

  /** The registered policies, in the order they run. */
  get policies(): readonly Policy[] {
    return this.registered.map((entry) => entry.policy);
  }

  /**
   * The decision of the compiled fast path, without a promise, while no other evaluator is registered; undefined
   * when it does not apply or cannot decide (then {@link evaluate}, which runs the policies, answers).
   */
  evaluateNow(input: PolicyInput): PolicyDecision | undefined {
    if (!this.fastPathActive) return undefined;
    try {
      return this.fastPath!.decide(input) ?? undefined;
    } catch {
      // evaluate() logs the failure and runs the policies one by one.
      return undefined;
    }
  }

  /** Runs the policies over `input` and combines their verdicts. Never rejects. */
  async evaluate(input: PolicyInput): Promise<PolicyDecision> {
    if (this.fastPathActive) {
      try {
        const decided = this.fastPath!.decide(input);
        if (decided) return decided;
      } catch (error) {
        this.logger.error(`The compiled fast path failed; evaluating the policies: ${redactString(String(error))}`);
      }
    }
    const reasons: PolicyReason[] = [];
    let details: Record<string, Readonly<Record<string, unknown>>> | undefined;
    let approval: PolicyVerdict | undefined;
    let allowed = false;

    for (const { policy } of this.registered) {
      const verdict = await this.runPolicy(policy, input);
      reasons.push({
        policy: policy.name,
        outcome: verdict.outcome,
        reason: verdict.reason,
        ...(verdict.code ? { code: verdict.code } : {}),
      });
      if (verdict.details) (details ??= {})[policy.name] = verdict.details;
      if (verdict.outcome === 'DENY') {
        return {
          outcome: 'DENY',
          reasons,
          deniedBy: policy.name,
          code: verdict.code ?? 'forbidden',
          ...(details ? { details } : {}),
        };
      }
      if (verdict.outcome === 'REQUIRE_APPROVAL') approval ??= verdict;
      if (verdict.outcome === 'ALLOW') allowed = true;
    }

    if (approval)
      return {
        outcome: 'REQUIRE_APPROVAL',
        reasons,
        code: approval.code ?? 'approval_required',
        ...(details ? { details } : {}),
      };
    if (allowed) return { outcome: 'ALLOW', reasons, ...(details ? { details } : {}) };
    reasons.push({
      policy: ENGINE_POLICY_NAME,
      outcome: 'DENY',
      reason: 'no policy allowed the operation',
      code: 'forbidden',
    });
    return {
      outcome: 'DENY',
      reasons,
      deniedBy: ENGINE_POLICY_NAME,
      code: 'forbidden',
      ...(details ? { details } : {}),
    };
  }

  /**
   * Runs one policy and turns anything but a well-formed verdict into a denial. The error itself stays in the
   * server log (with secrets scrubbed); the decision only says which policy failed.
   */
  protected async runPolicy(policy: Policy, input: PolicyInput): Promise<PolicyVerdict> {
    try {
      const verdict: unknown = await policy.evaluate(input);
      if (isVerdict(verdict)) return verdict;
      this.logger.error(`Policy "${policy.name}" returned an invalid verdict`);
    } catch (error) {
      const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      this.logger.error(`Policy "${policy.name}" failed: ${redactString(message)}`);
    }
    return { outcome: 'DENY', reason: `policy ${policy.name} failed`, code: 'forbidden' };
  }
}

function isVerdict(value: unknown): value is PolicyVerdict {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Record<string, unknown>;
  return (
    typeof candidate.outcome === 'string' &&
    OUTCOMES.has(candidate.outcome) &&
    typeof candidate.reason === 'string' &&
    (candidate.code === undefined || typeof candidate.code === 'string')
  );
}
