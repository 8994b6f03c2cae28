import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { setTimeout as sleep } from 'node:timers/promises';
import { In, type Repository } from 'typeorm';
import {
  ApprovalGate,
  BudgetExceededException,
  BudgetService,
  RunGuard,
  type ApprovalCall,
  type Principal,
  type RunGuardState,
  type RunLimits,
  type RunStopReason,
  type RunVerdict,
} from 'nest-agent-policy';
import { RunEntity } from '../database/entities';
import { ECHO_MAX_OUTPUT_TOKENS, EchoModel } from '../model/echo.model';
import { parseToolCommands } from '../tools/tool-command';
import { RUN_TOOL_EXECUTOR, type RunToolExecutor } from './run-tools';

/** Injection token of the policy file's `runs:` limits. */
export const RUN_LIMITS = Symbol('RUN_LIMITS');

/** How often a paused run looks whether its approval was decided (ms). */
const APPROVAL_POLL_MS = 200;

export interface RunScript {
  steps: Array<{ message: string }>;
  repeat: number | true;
}

export interface RunStep {
  index: number;
  message: string;
  reply: string;
  usage: { inputTokens: number; outputTokens: number; cost: number };
}

export interface RunToolCallRecord {
  step: number;
  name: string;
  args: unknown;
  status: 'ok' | 'error';
  result?: unknown;
  error?: string;
}

interface ActiveRun {
  stop: RunStopReason | null;
  done: Promise<void>;
}

const LIVE: Array<RunEntity['status']> = ['running', 'awaiting_approval'];
const micro = (usd: number): number => Math.round(usd * 1_000_000);

/**
 * Runs the steps of agent runs in the background, each under the run guard and the budgets: a step reserves its
 * estimate and settles to what echo-1 used before the next one starts, so a run stopped for any reason (a limit,
 * a cancel, shutdown) leaves nothing reserved. A limit with `onLimit: approval` pauses the run until a human
 * decides. On shutdown every live run stops with `shutdown` after its current step.
 */
@Injectable()
export class RunRunner implements OnModuleDestroy {
  private readonly logger = new Logger(RunRunner.name);
  private readonly active = new Map<string, ActiveRun>();

  constructor(
    @InjectRepository(RunEntity) private readonly runs: Repository<RunEntity>,
    private readonly model: EchoModel,
    private readonly budget: BudgetService,
    private readonly approvals: ApprovalGate,
    @Inject(RUN_LIMITS) private readonly limits: RunLimits,
    @Inject(RUN_TOOL_EXECUTOR) private readonly tools: RunToolExecutor,
  ) {}

  /** Starts a stored run in the background. */
  start(run: RunEntity, principal: Principal): void {
    const active: ActiveRun = { stop: null, done: Promise.resolve() };
    this.active.set(run.id, active);
    active.done = this.loop(run, principal, active)
      .catch(async (error: unknown) => {
        this.logger.error(`Run ${run.id} failed: ${String(error)}`);
        await this.finish(run, 'failed', null).catch(() => undefined);
      })
      .finally(() => this.active.delete(run.id));
  }

  /** Asks a live run of this instance to stop after its current step; answers whether it runs here. */
  stop(runId: string, reason: RunStopReason): boolean {
    const active = this.active.get(runId);
    if (!active) return false;
    active.stop ??= reason;
    return true;
  }

  /**
   * Stops every live run with `shutdown` and waits until each has settled its current step. Runs first among the
   * shutdown hooks, so the database and the usage ledger are still there to take what the runs used.
   */
  async onModuleDestroy(): Promise<void> {
    const live = [...this.active.values()];
    for (const run of live) run.stop ??= 'shutdown';
    await Promise.all(live.map((run) => run.done));
  }

  private async loop(run: RunEntity, principal: Principal, active: ActiveRun): Promise<void> {
    const guard = new RunGuard(this.limits, (run.guardState as RunGuardState | null) ?? undefined);
    const script = run.script as RunScript;
    const total = script.repeat === true ? Infinity : script.steps.length * script.repeat;
    for (let index = run.steps.length; ; index++) {
      if (await this.shouldStop(run, active)) return;
      if (index >= total) return this.finish(run, 'completed', null);
      if (!(await this.allowed(run, principal, guard, active, () => guard.beforeStep()))) return;

      const message = script.steps[index % script.steps.length].message;
      const step = await this.step(run, principal, message, index);
      if (!step) return this.finish(run, 'stopped', 'budget_exceeded');
      guard.recordStep({ tokens: step.usage.inputTokens + step.usage.outputTokens, cost: step.usage.cost });
      run.steps = [...run.steps, step];
      run.usage = {
        inputTokens: run.usage.inputTokens + step.usage.inputTokens,
        outputTokens: run.usage.outputTokens + step.usage.outputTokens,
        cost: (micro(run.usage.cost) + micro(step.usage.cost)) / 1_000_000,
      };

      // The `/tool <name> <json>` lines of the step, read as a reply's are (tools/tool-command.ts).
      for (const call of parseToolCommands(message)) {
        const args = call.args ?? call.raw;
        if (!(await this.allowed(run, principal, guard, active, () => guard.recordToolCall(call.name, args)))) {
          run.guardState = guard.state;
          await this.progress(run);
          return;
        }
        run.toolCalls = [
          ...run.toolCalls,
          call.args === null
            ? { step: index, name: call.name, args, status: 'error', error: 'tool arguments must be a JSON object' }
            : await this.invoke(run, principal, call.name, call.args, index),
        ];
      }
      run.guardState = guard.state;
      await this.progress(run);
    }
  }

  /** One model step, its budget reserved and settled; null when a budget has no room for it. */
  private async step(run: RunEntity, principal: Principal, message: string, index: number): Promise<RunStep | null> {
    let reservation;
    try {
      reservation = await this.budget.reserve(
        principal,
        { model: this.model.id },
        { inputTokens: EchoModel.estimateTokens(message), outputTokens: ECHO_MAX_OUTPUT_TOKENS },
        run.id,
        'run.create',
        { sessionId: run.sessionId, runId: run.id },
      );
    } catch (error) {
      if (error instanceof BudgetExceededException) return null;
      throw error;
    }
    let reply;
    try {
      reply = await this.model.reply(message);
    } catch (error) {
      await this.budget.release(reservation).catch(() => undefined);
      throw error;
    }
    const { charge } = await this.budget.settle(reservation, [
      { model: reply.model, inputTokens: reply.inputTokens, outputTokens: reply.outputTokens },
    ]);
    return {
      index,
      message,
      reply: reply.text,
      usage: { inputTokens: reply.inputTokens, outputTokens: reply.outputTokens, cost: charge.costMicro / 1_000_000 },
    };
  }

  private async invoke(
    run: RunEntity,
    principal: Principal,
    name: string,
    args: unknown,
    step: number,
  ): Promise<RunToolCallRecord> {
    try {
      const result = await this.tools.invoke(principal, name, args, { sessionId: run.sessionId, runId: run.id });
      return { step, name, args, status: 'ok', result };
    } catch (error) {
      return { step, name, args, status: 'error', error: error instanceof Error ? error.message : 'tool call failed' };
    }
  }

  /**
   * Whether the guard lets the run go on. A refused verdict stops the run, or with `onLimit: approval` pauses it
   * (`awaiting_approval`, an approval id) until a human approves (the limit is raised once) or denies.
   */
  private async allowed(
    run: RunEntity,
    principal: Principal,
    guard: RunGuard,
    active: ActiveRun,
    check: () => RunVerdict,
  ): Promise<boolean> {
    for (;;) {
      const verdict = check();
      if (verdict.ok) return true;
      run.guardState = guard.state;
      if (verdict.onLimit !== 'approval') {
        await this.finish(run, 'stopped', verdict.reason);
        return false;
      }
      const approved = await this.awaitApproval(run, principal, verdict, active);
      if (approved === null) return false;
      if (!approved) {
        await this.finish(run, 'stopped', verdict.reason);
        return false;
      }
      guard.raise(verdict.limit);
    }
  }

  /** true once approved, false when denied or expired, null when the run was stopped meanwhile. */
  private async awaitApproval(
    run: RunEntity,
    principal: Principal,
    verdict: Extract<RunVerdict, { ok: false }>,
    active: ActiveRun,
  ): Promise<boolean | null> {
    // The approval gate stores the pending approval (bound to this limit of this run at this step) and, once a
    // human granted it, spends it: the same gate as an HTTP call's, presented here by the run itself.
    const call: ApprovalCall = {
      principal,
      operation: 'run.create',
      request: {
        method: 'POST',
        path: `/runs/${run.id}/limits/${verdict.limit}`,
        body: { steps: run.steps.length, toolCalls: run.toolCalls.length },
      },
      reason: `run ${run.id}: ${verdict.message}`,
    };
    // No approval id is presented, so the gate stores a pending approval, or refuses (no approval store).
    const asked = await this.approvals.check(call);
    if (asked.passed) throw new Error('The approval gate passed a call that presented no approval');
    if (!asked.approval) throw asked.error;
    const approvalId = asked.approval.id;
    run.status = 'awaiting_approval';
    run.approvalId = approvalId;
    run.stopReason = verdict.reason;
    await this.progress(run);
    // Whichever store holds approvals (the database, or one an app provides) says when it was denied or expired;
    // a store that cannot tell leaves the run waiting until the approval's deadline.
    const deadline = Date.parse(asked.approval.expiresAt);
    for (;;) {
      if (await this.shouldStop(run, active)) return null;
      if ((await this.approvals.check({ ...call, approvalId })).passed) break;
      const status = await this.approvals.status(approvalId);
      if (status === 'denied' || status === 'expired' || status === 'consumed' || !(Date.now() < deadline))
        return false;
      await sleep(APPROVAL_POLL_MS);
    }
    run.status = 'running';
    run.approvalId = null;
    run.stopReason = null;
    await this.progress(run);
    return true;
  }

  /** Stops the run when asked here, or when it was cancelled through another instance. */
  private async shouldStop(run: RunEntity, active: ActiveRun): Promise<boolean> {
    if (!active.stop) {
      const stored = await this.runs.findOne({ where: { id: run.id }, select: { id: true, status: true } });
      if (stored?.status === 'cancelled') active.stop = 'cancelled';
    }
    if (!active.stop) return false;
    await this.finish(run, active.stop === 'cancelled' ? 'cancelled' : 'stopped', active.stop);
    return true;
  }

  /** Saves what the run did so far, unless it was ended meanwhile (a cancel through another instance). */
  private async progress(run: RunEntity): Promise<void> {
    await this.runs.update({ id: run.id, status: In(LIVE) }, savedState(run));
  }

  private async finish(run: RunEntity, status: RunEntity['status'], stopReason: RunStopReason | null): Promise<void> {
    run.status = status;
    run.stopReason = stopReason;
    run.approvalId = status === 'awaiting_approval' ? run.approvalId : null;
    await this.runs.update({ id: run.id }, savedState(run));
  }
}

type RunUpdate = Parameters<Repository<RunEntity>['update']>[1];

/** The columns a step changes, as they are on `run` now. */
function savedState(run: RunEntity): RunUpdate {
  return {
    status: run.status,
    stopReason: run.stopReason,
    approvalId: run.approvalId,
    steps: run.steps,
    toolCalls: run.toolCalls,
    usage: run.usage,
    guardState: run.guardState,
    updatedAt: Date.now(),
  } as RunUpdate;
}
