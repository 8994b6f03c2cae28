import { canonicalJson, type JsonValue } from '../audit/canonical-json';
import { toMicroUsd } from '../persistence/column-types';
import type { RunGuardState, RunLimitName, RunLimits, RunStopReason, RunVerdict } from './run.types';

const REASONS: Record<RunLimitName, RunStopReason> = {
  maxSteps: 'max_steps',
  maxToolCalls: 'max_tool_calls',
  maxCost: 'max_cost',
  maxTokens: 'max_tokens',
  maxSeconds: 'max_seconds',
  maxRepeats: 'loop_detected',
};

/** The key two tool calls share when they are the same call: the tool and its arguments as canonical JSON. */
export function toolCallKey(name: string, args: unknown): string {
  let canonical: string;
  try {
    canonical = canonicalJson((args ?? null) as JsonValue);
  } catch {
    canonical = String(args);
  }
  return `${name}\u0000${canonical}`;
}

/**
 * The guard of one agent run: counts its steps, tool calls, tokens, cost and time against the policy's `runs:`
 * limits and answers, before each step and each tool call, whether the run may go on. No I/O; the clock is given.
 * Any loop can use it: call {@link beforeStep} before a model step, {@link recordStep} with what it used, and
 * {@link recordToolCall} before running a tool. A refused verdict with `onLimit: 'approval'` may be answered by a
 * human: {@link raise} then lifts that limit once by its configured value.
 *
 * @example
 * const guard = new RunGuard(policy.runs ?? {});
 * for (const step of steps) {
 *   const verdict = guard.beforeStep();
 *   if (!verdict.ok) return stop(verdict.reason);
 *   const reply = await model.call(step);
 *   guard.recordStep({ tokens: reply.tokens, cost: reply.cost });
 *   for (const call of reply.toolCalls) {
 *     const allowed = guard.recordToolCall(call.name, call.args);
 *     if (!allowed.ok) return stop(allowed.reason); // loop_detected, max_tool_calls
 *     await tools.invoke(call);
 *   }
 * }
 */
export class RunGuard {
  private readonly current: RunGuardState;

  constructor(
    readonly limits: RunLimits,
    state?: RunGuardState,
    private readonly clock: () => number = Date.now,
  ) {
    this.current = state
      ? { ...state, repeats: { ...state.repeats }, raised: { ...state.raised } }
      : { steps: 0, toolCalls: 0, tokens: 0, costMicro: 0, startedAt: clock(), repeats: {}, raised: {} };
  }

  /** A copy of what the run used so far (to persist it, or to resume with `new RunGuard(limits, state)`). */
  get state(): RunGuardState {
    return { ...this.current, repeats: { ...this.current.repeats }, raised: { ...this.current.raised } };
  }

  /** The limit in force: the configured one, raised by approvals. */
  limit(name: RunLimitName): number | undefined {
    const configured = this.limits[name];
    if (configured === undefined) return undefined;
    return configured * (1 + (this.current.raised[name] ?? 0));
  }

  /** Whether the run may take one more model step (steps, cost, tokens and time so far). */
  beforeStep(): RunVerdict {
    const { steps, costMicro, tokens, startedAt } = this.current;
    const checks: Array<[RunLimitName, number, (limit: number) => number]> = [
      ['maxSteps', steps, (l) => l],
      ['maxCost', costMicro, (l) => toMicroUsd(l)],
      ['maxTokens', tokens, (l) => l],
      ['maxSeconds', this.clock() - startedAt, (l) => l * 1000],
    ];
    for (const [name, used, inUnits] of checks) {
      const limit = this.limit(name);
      if (limit !== undefined && used >= inUnits(limit))
        return this.refuse(name, `the run reached its ${name} of ${limit}`);
    }
    return { ok: true };
  }

  /** Counts a step that was taken and what it used (cost in USD). */
  recordStep(usage: { tokens?: number; cost?: number } = {}): void {
    this.current.steps += 1;
    this.current.tokens += Math.max(0, Math.floor(usage.tokens ?? 0));
    this.current.costMicro += toMicroUsd(Math.max(0, usage.cost ?? 0));
  }

  /** Adds usage to the current step (e.g. a tool's cost) without counting a step. */
  recordUsage(usage: { tokens?: number; cost?: number }): void {
    this.current.tokens += Math.max(0, Math.floor(usage.tokens ?? 0));
    this.current.costMicro += toMicroUsd(Math.max(0, usage.cost ?? 0));
  }

  /**
   * Whether the run may call `name` with `args`; when it may, the call is counted. The same tool with the same
   * canonical arguments more than `maxRepeats` times is a loop (`loop_detected`).
   */
  recordToolCall(name: string, args: unknown): RunVerdict {
    const maxToolCalls = this.limit('maxToolCalls');
    if (maxToolCalls !== undefined && this.current.toolCalls >= maxToolCalls) {
      return this.refuse('maxToolCalls', `the run reached its maxToolCalls of ${maxToolCalls}`);
    }
    const key = toolCallKey(name, args);
    const seen = this.current.repeats[key] ?? 0;
    const maxRepeats = this.limit('maxRepeats');
    if (maxRepeats !== undefined && seen >= maxRepeats) {
      return this.refuse(
        'maxRepeats',
        `tool "${name}" was called ${seen} times with the same arguments (maxRepeats ${maxRepeats})`,
      );
    }
    this.current.repeats[key] = seen + 1;
    this.current.toolCalls += 1;
    return { ok: true };
  }

  /** After a human approved going past `name`: the limit is raised once by its configured value. */
  raise(name: RunLimitName): void {
    this.current.raised[name] = (this.current.raised[name] ?? 0) + 1;
  }

  private refuse(limit: RunLimitName, message: string): RunVerdict {
    return { ok: false, reason: REASONS[limit], limit, onLimit: this.limits.onLimit ?? 'stop', message };
  }
}
