/**
 * Run guards: the limits of the policy file's `runs:` section applied to any agent loop (steps, tool calls, cost,
 * tokens, time, and loop detection on repeated tool calls), with `onLimit: stop | approval`.
 */

/**
 * The guard of one run; pure, clock given, state persistable.
 * @example
 * const guard = new RunGuard(policy.runs ?? {});
 * const verdict = guard.beforeStep(); // { ok: false, reason: 'max_steps', limit: 'maxSteps', onLimit: 'stop', message }
 * guard.recordStep({ tokens: 120, cost: 0.0002 });
 * guard.recordToolCall('search_kb', { query: 'refund' }); // loop_detected past maxRepeats
 */
export { RunGuard, toolCallKey } from './run.guard';

/**
 * Shapes of the `runs:` limits, verdicts, stop reasons, statuses and the persisted guard state.
 * @example
 * const limits: RunLimits = { maxSteps: 20, maxCost: 0.5, maxRepeats: 3, onLimit: 'approval' };
 */
export type {
  RunLimits,
  RunOnLimit,
  RunLimitName,
  RunStopReason,
  RunStatus,
  RunVerdict,
  RunGuardState,
} from './run.types';
