import { HttpException, Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { DataSource, type Repository } from 'typeorm';
import {
  ToolExecutor,
  type BudgetMeter,
  type BudgetStreamEvent,
  type Principal,
  type RecordScopeFilter,
  type ToolInvokeContext,
} from 'nest-agent-policy';
import { paginate, type Page, type PageQuery } from '../common/pagination';
import { findScoped, scopedQuery } from '../common/scoped-records';
import { EventEntity, SessionEntity, type ToolCallRecord } from '../database/entities';
import { parseToolCommands } from '../tools/tool-command';
import { EchoModel, type ModelReply } from '../model/echo.model';
import { ECHO_TOKEN_DELAY_MS, replyTokenTexts, tokenDelay } from '../model/echo.stream';

export interface EventExchange {
  event: EventEntity;
  reply: EventEntity;
  usage: { model: string; inputTokens: number; outputTokens: number; cost?: number };
}

/** Where a tool call of a message comes from (request id, client address, an approval in hand). */
export type ExchangeOrigin = Omit<ToolInvokeContext, 'sessionId'>;

@Injectable()
export class EventsService {
  constructor(
    @InjectRepository(SessionEntity) private readonly sessions: Repository<SessionEntity>,
    @InjectRepository(EventEntity) private readonly events: Repository<EventEntity>,
    private readonly dataSource: DataSource,
    private readonly model: EchoModel,
    private readonly tools: ToolExecutor,
    @Inject(ECHO_TOKEN_DELAY_MS) private readonly tokenDelayMs: number,
  ) {}

  /** The session the caller may post to (404 outside its tenant or, for `own` roles, its own sessions). */
  session(sessionId: string, scope: RecordScopeFilter): Promise<SessionEntity> {
    return findScoped(this.sessions, 'session', sessionId, scope);
  }

  /**
   * Stores the caller's message and the agent's reply together: both or neither. Each `/tool <name> <json>` line
   * of the message is a tool call the model asks for; it runs under the caller's policy (through the
   * `ToolExecutor`, like any other call) and the reply lists it in `toolCalls`.
   */
  async exchange(
    principal: Principal,
    session: SessionEntity,
    message: string,
    origin: ExchangeOrigin = {},
  ): Promise<EventExchange> {
    const reply: ModelReply = await this.model.reply(message);
    const toolCalls = await this.runTools(principal, session, message, origin);
    return this.store(principal, session, message, reply, toolCalls);
  }

  /**
   * Streams echo-1's reply: a `token` event per output token, metered one token at a time (the meter refuses the
   * token that would pass the call's reservation, which ends the stream with `budget_exceeded`), then, once the
   * whole reply was sent, the exchange is stored and `done` carries it. Stops as soon as the client goes away.
   */
  async *streamExchange(
    principal: Principal,
    session: SessionEntity,
    message: string,
    meter: BudgetMeter,
    origin: ExchangeOrigin = {},
  ): AsyncGenerator<BudgetStreamEvent> {
    const reply = await this.model.reply(message);
    meter.record({ model: reply.model, inputTokens: reply.inputTokens, outputTokens: 0 });
    const toolCalls = await this.runTools(principal, session, message, origin);
    const texts = replyTokenTexts(reply.text);
    for (const text of texts) {
      if (!(await tokenDelay(this.tokenDelayMs, meter.signal))) return;
      meter.record({ model: reply.model, inputTokens: 0, outputTokens: 1 });
      yield { type: 'token', data: { text } };
    }
    const exchange = await this.store(principal, session, message, { ...reply, outputTokens: texts.length }, toolCalls);
    yield { type: 'done', data: exchange };
  }

  private async store(
    principal: Principal,
    session: SessionEntity,
    message: string,
    reply: ModelReply,
    toolCalls: ToolCallRecord[] | null,
  ): Promise<EventExchange> {
    const now = Date.now();
    const base = { tenantId: session.tenantId, ownerId: principal.id, sessionId: session.id, updatedAt: now };
    const event = this.events.create({
      ...base,
      id: randomUUID(),
      role: 'customer',
      message,
      inputTokens: reply.inputTokens,
      outputTokens: 0,
      createdAt: now,
    });
    const answer = this.events.create({
      ...base,
      id: randomUUID(),
      role: 'agent',
      message: reply.text,
      inputTokens: 0,
      outputTokens: reply.outputTokens,
      toolCalls,
      createdAt: now + 1,
    });
    await this.dataSource.transaction(async (em) => {
      await em.insert(EventEntity, event);
      await em.insert(EventEntity, answer);
    });
    return {
      event,
      reply: answer,
      usage: { model: reply.model, inputTokens: reply.inputTokens, outputTokens: reply.outputTokens },
    };
  }

  private async runTools(
    principal: Principal,
    session: SessionEntity,
    message: string,
    origin: Omit<ToolInvokeContext, 'sessionId'>,
  ): Promise<ToolCallRecord[] | null> {
    const commands = parseToolCommands(message);
    if (!commands.length) return null;
    const calls: ToolCallRecord[] = [];
    for (const command of commands) {
      if (command.args === null) {
        calls.push({
          name: command.name,
          args: command.raw,
          status: 'error',
          error: { statusCode: 400, code: 'validation_failed', message: 'Tool arguments must be a JSON object' },
        });
        continue;
      }
      try {
        const { result } = await this.tools.invoke(principal, command.name, command.args, {
          ...origin,
          sessionId: session.id,
        });
        calls.push({ name: command.name, args: command.args, status: 'ok', result: result ?? null });
      } catch (error) {
        calls.push({ name: command.name, args: command.args, status: 'error', error: toolError(error) });
      }
    }
    return calls;
  }

  list(session: SessionEntity, page: PageQuery): Promise<Page<EventEntity>> {
    const qb = scopedQuery(this.events, 'event', {}).andWhere('event.sessionId = :sid', { sid: session.id });
    return paginate(qb, 'event', page);
  }
}

/** The error of a tool call as the reply shows it: the library's `{ statusCode, code, message }` body. */
function toolError(error: unknown): NonNullable<ToolCallRecord['error']> {
  if (error instanceof HttpException) {
    const body = error.getResponse() as { code?: unknown; message?: unknown; approvalId?: unknown };
    return {
      statusCode: error.getStatus(),
      code: typeof body.code === 'string' ? body.code : 'tool_failed',
      message: typeof body.message === 'string' ? body.message : 'The tool failed',
      ...(typeof body.approvalId === 'string' ? { approvalId: body.approvalId } : {}),
    };
  }
  return { statusCode: 502, code: 'tool_failed', message: 'The tool failed' };
}
