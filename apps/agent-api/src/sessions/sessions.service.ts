import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import type { Repository } from 'typeorm';
import type { Principal, RecordScopeFilter } from 'nest-agent-policy';
import { paginate, type Page, type PageQuery } from '../common/pagination';
import { findScoped, scopedQuery } from '../common/scoped-records';
import { AgentEntity, CustomerEntity, SessionEntity } from '../database/entities';
import type { CreateSessionDto, UpdateSessionDto } from './session.dto';

@Injectable()
export class SessionsService {
  constructor(
    @InjectRepository(SessionEntity) private readonly sessions: Repository<SessionEntity>,
    @InjectRepository(AgentEntity) private readonly agents: Repository<AgentEntity>,
    @InjectRepository(CustomerEntity) private readonly customers: Repository<CustomerEntity>,
  ) {}

  async create(principal: Principal, scope: RecordScopeFilter, dto: CreateSessionDto): Promise<SessionEntity> {
    // The agent and customer must belong to the caller's tenant; ownership does not apply to them.
    const tenantOnly: RecordScopeFilter = scope.tenantId !== undefined ? { tenantId: scope.tenantId } : {};
    await findScoped(this.agents, 'agent', dto.agentId, tenantOnly);
    if (dto.customerId) await findScoped(this.customers, 'customer', dto.customerId, tenantOnly);
    const now = Date.now();
    const session = this.sessions.create({
      id: randomUUID(),
      tenantId: principal.tenantId,
      ownerId: principal.id,
      agentId: dto.agentId,
      customerId: dto.customerId ?? null,
      status: 'open',
      title: dto.title ?? null,
      createdAt: now,
      updatedAt: now,
    });
    await this.sessions.insert(session);
    return session;
  }

  list(scope: RecordScopeFilter, page: PageQuery): Promise<Page<SessionEntity>> {
    return paginate(scopedQuery(this.sessions, 'session', scope), 'session', page);
  }

  get(id: string, scope: RecordScopeFilter): Promise<SessionEntity> {
    return findScoped(this.sessions, 'session', id, scope);
  }

  async update(id: string, scope: RecordScopeFilter, dto: UpdateSessionDto): Promise<SessionEntity> {
    const session = await this.get(id, scope);
    Object.assign(session, dto, { updatedAt: Date.now() });
    await this.sessions.update({ id }, { title: session.title, status: session.status, updatedAt: session.updatedAt });
    return session;
  }

  async remove(id: string, scope: RecordScopeFilter): Promise<void> {
    await this.get(id, scope);
    await this.sessions.delete({ id });
  }
}
