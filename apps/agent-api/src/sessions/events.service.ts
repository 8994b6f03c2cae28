import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { DataSource, type Repository } from 'typeorm';
import type { BudgetMeter, BudgetStreamEvent, Principal, RecordScopeFilter } from 'nest-agent-policy';
import { paginate, type Page, type PageQuery } from '../common/pagination';
import { findScoped, scopedQuery } from '../common/scoped-records';
import { EventEntity, SessionEntity } from '../database/entities';
import { EchoModel, type ModelReply } from '../model/echo.model';
import { ECHO_TOKEN_DELAY_MS, replyTokenTexts, tokenDelay } from '../model/echo.stream';

export interface EventExchange {
  event: EventEntity;
  reply: EventEntity;
  usage: { model: string; inputTokens: number; outputTokens: number; cost?: number };
}

@Injectable()
export class EventsService {
  constructor(
    @InjectRepository(SessionEntity) private readonly sessions: Repository<SessionEntity>,
    @InjectRepository(EventEntity) private readonly events: Repository<EventEntity>,
    private readonly dataSource: DataSource,
    private readonly model: EchoModel,
    @Inject(ECHO_TOKEN_DELAY_MS) private readonly tokenDelayMs: number,
  ) {}

  /** The session the caller may post to (404 outside its tenant or, for `own` roles, its own sessions). */
  session(sessionId: string, scope: RecordScopeFilter): Promise<SessionEntity> {
    return findScoped(this.sessions, 'session', sessionId, scope);
  }

  /** Stores the caller's message and the agent's reply together: both or neither. */
  async exchange(principal: Principal, session: SessionEntity, message: string): Promise<EventExchange> {
    return this.store(principal, session, message, this.model.reply(message));
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
  ): AsyncGenerator<BudgetStreamEvent> {
    const reply = this.model.reply(message);
    meter.record({ model: reply.model, inputTokens: reply.inputTokens, outputTokens: 0 });
    const texts = replyTokenTexts(reply.text);
    for (const text of texts) {
      if (!(await tokenDelay(this.tokenDelayMs, meter.signal))) return;
      meter.record({ model: reply.model, inputTokens: 0, outputTokens: 1 });
      yield { type: 'token', data: { text } };
    }
    const exchange = await this.store(principal, session, message, { ...reply, outputTokens: texts.length });
    yield { type: 'done', data: exchange };
  }

  private async store(principal: Principal, session: SessionEntity, message: string, reply: ModelReply): Promise<EventExchange> {
    const now = Date.now();
    const base = { tenantId: session.tenantId, ownerId: principal.id, sessionId: session.id, updatedAt: now };
    const event = this.events.create({ ...base, id: randomUUID(), role: 'customer', message, inputTokens: reply.inputTokens, outputTokens: 0, createdAt: now });
    const answer = this.events.create({ ...base, id: randomUUID(), role: 'agent', message: reply.text, inputTokens: 0, outputTokens: reply.outputTokens, createdAt: now + 1 });
    await this.dataSource.transaction(async (em) => {
      await em.insert(EventEntity, event);
      await em.insert(EventEntity, answer);
    });
    return { event, reply: answer, usage: { model: reply.model, inputTokens: reply.inputTokens, outputTokens: reply.outputTokens } };
  }

  list(session: SessionEntity, page: PageQuery): Promise<Page<EventEntity>> {
    const qb = scopedQuery(this.events, 'event', {}).andWhere('event.sessionId = :sid', { sid: session.id });
    return paginate(qb, 'event', page);
  }
}
