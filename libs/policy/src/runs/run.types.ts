import type { RunLimits } from './runs.schema';

export type { RunLimits };

/** What a run does when it meets a limit: stop, or pause for a human approval that raises the limit once. */
export type RunOnLimit = NonNullable<RunLimits['onLimit']>;

/** The limits a run can meet, by their key in {@link RunLimits}. */
export type RunLimitName = 'maxSteps' | 'maxToolCalls' | 'maxCost' | 'maxTokens' | 'maxSeconds' | 'maxRepeats';

/** Why a run stopped. */
export type RunStopReason =
  | 'max_steps'
  | 'max_tool_calls'
  | 'max_cost'
  | 'max_tokens'
  | 'max_seconds'
  | 'loop_detected'
  | 'budget_exceeded'
  | 'cancelled'
  | 'shutdown';

/** The state of a run. */
export type RunStatus = 'running' | 'completed' | 'stopped' | 'awaiting_approval' | 'cancelled' | 'failed';

/** The verdict of a {@link RunGuard} check. */
export type RunVerdict =
  | { readonly ok: true }
  | {
      readonly ok: false;
      readonly reason: RunStopReason;
      readonly limit: RunLimitName;
      /** `approval`: the run may pause and continue once a human raised this limit. */
      readonly onLimit: RunOnLimit;
      readonly message: string;
    };

/** What a run used of its limits; plain data, so a run can be persisted and resumed. */
export interface RunGuardState {
  steps: number;
  toolCalls: number;
  tokens: number;
  /** Integer micro-USD. */
  costMicro: number;
  /** Epoch ms. */
  startedAt: number;
  /** Calls per `tool + canonical JSON arguments`. */
  repeats: Record<string, number>;
  /** How many times each limit was raised by an approval. */
  raised: Partial<Record<RunLimitName, number>>;
}
