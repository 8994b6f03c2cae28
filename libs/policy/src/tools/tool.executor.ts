import { HttpException, Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { performance } from 'node:perf_hooks';
import { ApprovalGate } from '../approval/approval.gate';
import type { AuditOutcome } from '../audit/audit-event.interface';
import { redactString } from '../audit/audit.redaction';
import { AuditService } from '../audit/audit.service';
import type { Principal } from '../authentication/principal.interface';
import { AuthorizationPolicy } from '../authorization/authorization-policy';
import type { CompiledPolicy } from '../authorization/compiled-policy';
import type { BudgetReservation, BudgetService as BudgetServiceType } from '../budget/budget.service';
import { BudgetService } from '../budget/budget.service';
import { PolicyMetrics, type ToolInvocationOutcome } from '../monitoring/policy-metrics';
import { COMPILED_POLICY } from '../policy.constants';
import {
  PolicyForbiddenException,
  PolicyUnavailableException,
  RateLimitedException,
  ToolFailedException,
  ToolTimeoutException,
  ValidationFailedException,
} from '../policy.exceptions';
import { RateLimitService } from '../rate-limit/rate-limit.service';
import type { ToolDescription, ToolInvocationResult, ToolInvokeContext } from './agent-tool.interface';
import { expandScopes, missingScopes } from '../authorization/scope-expander';
import { SandboxTimeoutError } from './sandbox/sandbox.errors';
import { ToolSandbox } from './sandbox/tool-sandbox.interface';
import { boundForAudit, redactArguments } from './tool-arguments.redaction';
import { ToolConcurrencyLimiter } from './tool-concurrency.limiter';
import { decideToolAccess, toolBuckets, toolNeedsApproval, TOOL_INVOKE_OPERATION } from './tool-policy';
import { ToolRegistry, type RegisteredTool } from './tool.registry';

/** The scope every tool call needs, on top of the tool's own `scopes`. */
export const TOOL_WRITE_SCOPE = 'tools:write';
// How long past its timeout a sandbox may take to report its own kill before the executor stops waiting.
const SANDBOX_GRACE_MS = 1000;

class ToolTimedOut extends Error {}

interface CallState {
  readonly principal: Principal;
  readonly name: string;
  readonly tool: RegisteredTool | undefined;
  readonly args: unknown;
  readonly ctx: ToolInvokeContext;
  /** Why the decision refused, for the audit event. */
  reasons?: readonly string[];
}

/**
 * The one way to run a tool, from a route, a model's reply or a run. In order: the principal's roles allow
 * `tool.invoke` and the tool → scopes (`tools:write` and the tool's own, through the `AuthorizationPolicy`, so
 * custom evaluators apply) → rate limits → arguments (validated, sanitized) → budget → a slot of the per-principal
 * concurrency cap → approval (last, so that a call refused for any other reason neither spends nor stores one) → run
 * with a timeout. Every call is audited (`tool.invoked`, `tool.denied`).
 *
 * @example
 * const { result } = await tools.invoke(principal, 'search_kb', { query: 'refund' }, { sessionId, requestId });
 * @throws PolicyForbiddenException (403 `forbidden`, unknown and forbidden tools alike), InsufficientScopeException,
 * RateLimitedException (429), ApprovalRequiredException (403), ValidationFailedException (400, naming the JSON
 * path), BudgetExceededException (402), ToolTimeoutException (504), ToolFailedException (502).
 */
@Injectable()
export class ToolExecutor {
  private readonly logger = new Logger('ToolExecutor');
  private readonly running = new ToolConcurrencyLimiter();

  constructor(
    private readonly registry: ToolRegistry,
    @Inject(COMPILED_POLICY) private readonly compiled: CompiledPolicy,
    private readonly policy: AuthorizationPolicy,
    private readonly rateLimits: RateLimitService,
    @Inject(BudgetService) private readonly budgets: BudgetServiceType,
    @Optional() @Inject(ApprovalGate) private readonly approvals?: ApprovalGate | null,
    @Optional() @Inject(AuditService) private readonly audit?: AuditService | null,
    @Optional() @Inject(ToolSandbox) private readonly sandbox?: ToolSandbox | null,
    @Optional() @Inject(PolicyMetrics) private readonly metrics?: PolicyMetrics | null,
  ) {}

  /**
   * The tools `principal` may invoke (roles allow `tool.invoke` and the tool, scopes cover `tools:write` and the
   * tool's own), with their input schemas. Rate limits, approvals and budgets are not consulted.
   */
  list(principal: Principal): ToolDescription[] {
    const scopes = expandScopes(principal.scopes, this.compiled.scopes);
    return this.registry
      .list()
      .filter((tool) => decideToolAccess(this.compiled, this.registry.policy, principal, tool.name, true).allowed)
      .filter((tool) => missingScopes(scopes, [TOOL_WRITE_SCOPE, ...tool.scopes]).length === 0)
      .map((tool) => this.registry.describe(tool));
  }

  async invoke<T = unknown>(
    principal: Principal,
    name: string,
    args: unknown,
    ctx: ToolInvokeContext = {},
  ): Promise<ToolInvocationResult<T>> {
    const tool = this.registry.get(name);
    const call: CallState = { principal, name, tool, args, ctx };
    let value: Record<string, unknown>;
    let needsApproval: boolean;
    let reservation: BudgetReservation | null;
    try {
      ({ value, needsApproval } = await this.admit(call));
      reservation = tool!.cost
        ? await this.budgets.reserve(
            principal,
            { requests: tool!.cost.requests },
            { cost: tool!.cost.usd },
            ctx.requestId ?? null,
            TOOL_INVOKE_OPERATION,
          )
        : null;
    } catch (error) {
      throw this.denied(call, error);
    }
    const key = `${principal.tenantId ?? '-'}:${principal.id}:${name}`;
    const release = tool!.maxConcurrent === null ? () => undefined : this.running.tryAcquire(key, tool!.maxConcurrent);
    if (!release) {
      if (reservation) await this.budgets.release(reservation).catch(() => undefined);
      throw this.denied(call, new RateLimitedException(1, `Too many concurrent calls of tool ${name}`));
    }
    if (needsApproval) {
      try {
        await this.checkApproval(call);
      } catch (error) {
        release();
        if (reservation) await this.budgets.release(reservation).catch(() => undefined);
        throw this.denied(call, error);
      }
    }
    return this.execute<T>(call, tool!, value, reservation, release);
  }

  /**
   * Roles, scopes, rate limits and arguments; answers the cleaned arguments and whether the call needs an approval
   * (asked for or spent once everything else, budget and concurrency included, allowed it).
   */
  private async admit(call: CallState): Promise<{ value: Record<string, unknown>; needsApproval: boolean }> {
    const { principal, name, tool, args, ctx } = call;
    const access = decideToolAccess(this.compiled, this.registry.policy, principal, name, tool !== undefined);
    if (!access.allowed || !tool) {
      call.reasons = access.reasons;
      throw new PolicyForbiddenException();
    }
    const permission = await this.policy.checkPermission(
      {
        principal,
        requiredScopes: [TOOL_WRITE_SCOPE, ...tool.scopes],
        requestId: ctx.requestId ?? '',
        ip: ctx.ip ?? '',
        method: 'TOOL',
        path: `/tools/${name}`,
        body: args,
        approvalId: ctx.approvalId,
      },
      TOOL_INVOKE_OPERATION,
    );
    // REQUIRE_APPROVAL (`approvals.operations` covers tool.invoke) goes to the approval gate with the tool's own.
    const policyApproval = !permission.allowed && permission.code === 'approval_required' && !permission.approval;
    if (!permission.allowed && !policyApproval) {
      call.reasons = permission.reasons;
      throw this.policy.permissionError(permission);
    }

    const outcome = await this.rateLimits.consume(
      toolBuckets(principal, name, this.compiled.document.rateLimits ?? {}, this.registry.policy, ctx.ip ?? ''),
    );
    if (!outcome.allowed) throw new RateLimitedException(outcome.retryAfterSeconds);

    const needsApproval = policyApproval || toolNeedsApproval(this.registry.policy, name, tool.approval);
    // A sandboxed tool never runs in process: without a sandbox it is refused before anything is spent.
    if (tool.sandbox && !this.sandbox)
      throw new PolicyUnavailableException(`Tool ${name} needs a sandbox and none is configured`);

    const checked = tool.schema.check(args);
    if (!checked.ok) {
      throw new ValidationFailedException(`Invalid arguments for tool ${name}: ${checked.errors[0]}`, [
        ...checked.errors,
      ]);
    }
    return { value: checked.value, needsApproval };
  }

  private async checkApproval({ principal, name, args, ctx }: CallState): Promise<void> {
    if (!this.approvals)
      throw new PolicyForbiddenException('This tool requires approval and no approval store is configured');
    await this.approvals.pass({
      principal,
      operation: TOOL_INVOKE_OPERATION,
      request: { method: 'TOOL', path: `/tools/${name}`, body: args ?? null },
      approvalId: ctx.approvalId,
      reason: `tool ${name} requires a human approval`,
      origin: { requestId: ctx.requestId, ip: ctx.ip },
    });
  }

  private async execute<T>(
    call: CallState,
    tool: RegisteredTool,
    args: Record<string, unknown>,
    reservation: BudgetReservation | null,
    release: () => void,
  ): Promise<ToolInvocationResult<T>> {
    const { principal, ctx } = call;
    const started = performance.now();
    // Created only when the tool reads `ctx.signal`: most tools never do, and a signal costs more than the checks.
    let controller: AbortController | undefined;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => {
          controller?.abort();
          reject(new ToolTimedOut());
        },
        tool.sandbox ? tool.timeoutMs + SANDBOX_GRACE_MS : tool.timeoutMs,
      );
    });
    let outcome: AuditOutcome = 'SUCCESS';
    try {
      const work = tool.sandbox
        ? this.runSandboxed(tool, args)
        : Promise.resolve().then(() =>
            tool.run(args, {
              principal,
              sessionId: ctx.sessionId,
              runId: ctx.runId,
              requestId: ctx.requestId,
              get signal() {
                controller ??= new AbortController();
                return controller.signal;
              },
            }),
          );
      const result = (await Promise.race([work, timeout])) as T;
      const durationMs = Math.round((performance.now() - started) * 1000) / 1000;
      if (reservation)
        await this.budgets
          .settle(reservation, [])
          .catch((e: unknown) => this.logger.error(`Tool budget settlement failed: ${String(e)}`));
      this.record(call, outcome, durationMs);
      return { tool: tool.name, result, durationMs };
    } catch (error) {
      const durationMs = Math.round((performance.now() - started) * 1000) / 1000;
      if (reservation) await this.budgets.release(reservation).catch(() => undefined);
      if (error instanceof ToolTimedOut || error instanceof SandboxTimeoutError) {
        outcome = 'TIMEOUT';
        this.record(call, outcome, durationMs);
        throw new ToolTimeoutException(`Tool ${tool.name} did not finish within ${tool.timeoutMs} ms`);
      }
      outcome = 'FAILURE';
      this.record(call, outcome, durationMs);
      // A tool may refuse on purpose with a 4xx (e.g. a record outside the caller's reach is a 404).
      if (error instanceof HttpException && error.getStatus() < 500) throw error;
      this.logger.warn(
        `Tool ${tool.name} failed: ${redactString(error instanceof Error ? error.message : String(error))}`,
      );
      throw new ToolFailedException(`Tool ${tool.name} failed`);
    } finally {
      clearTimeout(timer);
      release();
    }
  }

  private runSandboxed(tool: RegisteredTool, args: Record<string, unknown>): Promise<unknown> {
    if (!this.sandbox || !tool.source || !tool.sandbox)
      return Promise.reject(new Error(`Tool ${tool.name} has no sandbox`));
    return this.sandbox.run({ source: tool.source, args, timeoutMs: tool.timeoutMs, limits: { ...tool.sandbox } });
  }

  /** Audits the refusal and answers the error to throw: HTTP errors as they are, anything unexpected denies. */
  private denied(call: CallState, error: unknown): unknown {
    let answer: unknown = error;
    if (!(error instanceof HttpException)) {
      this.logger.error(
        `Tool decision failed, denying: ${redactString(error instanceof Error ? error.message : String(error))}`,
      );
      answer = new PolicyForbiddenException();
    }
    const response = (answer as HttpException).getResponse() as { code?: string; message?: string };
    if (response.code === 'approval_required') return answer;
    this.write({
      type: 'tool.denied',
      outcome: 'DENY',
      call,
      reasons: [...(call.reasons ?? []), response.message ?? 'denied'],
      extra: { code: response.code ?? 'forbidden' },
    });
    return answer;
  }

  private record(call: CallState, outcome: AuditOutcome, durationMs: number): void {
    this.write({
      type: 'tool.invoked',
      outcome,
      call,
      reasons: [`tool ${call.name} ${outcome.toLowerCase()}`],
      extra: { durationMs },
    });
  }

  private write(event: {
    type: 'tool.invoked' | 'tool.denied';
    outcome: AuditOutcome;
    call: CallState;
    reasons: string[];
    extra: Record<string, unknown>;
  }): void {
    const { principal, name, tool, args, ctx } = event.call;
    // An unknown name is not a label value: callers choose it, and every new value is a new series.
    this.metrics?.toolInvocations.inc({ tool: tool ? name : 'unknown', outcome: metricOutcome(event.outcome) });
    if (!this.audit) return;
    const details: Record<string, unknown> = { tool: tool ? name : String(name).slice(0, 64), ...event.extra };
    // An unknown tool's arguments are not recorded: nothing says which of them are sensitive.
    if (tool) details.args = boundForAudit(redactArguments(args, tool.sensitive));
    if (ctx.sessionId) details.sessionId = ctx.sessionId;
    if (ctx.runId) details.runId = ctx.runId;
    void this.audit
      .record({
        type: event.type,
        outcome: event.outcome,
        principal,
        operation: TOOL_INVOKE_OPERATION,
        reasons: event.reasons,
        requestId: ctx.requestId ?? null,
        ip: ctx.ip ?? null,
        details,
      })
      .catch((e: unknown) => this.logger.error(`Tool audit event failed: ${String(e)}`));
  }
}

/** The `policy_tool_invocations_total` outcome of an audited tool call. */
function metricOutcome(outcome: AuditOutcome): ToolInvocationOutcome {
  if (outcome === 'SUCCESS') return 'success';
  if (outcome === 'TIMEOUT') return 'timeout';
  if (outcome === 'FAILURE') return 'failure';
  return 'denied';
}
