import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import type { Repository } from 'typeorm';
import type { Principal, RecordScopeFilter } from 'nest-agent-policy';
import { paginate, type Page, type PageQuery } from '../common/pagination';
import { findScoped, scopedQuery } from '../common/scoped-records';
import { AgentEntity } from '../database/entities';
import type { CreateAgentDto, UpdateAgentDto } from './agent.dto';

@Injectable()
export class AgentsService {
  constructor(@InjectRepository(AgentEntity) private readonly agents: Repository<AgentEntity>) {}

  async create(principal: Principal, dto: CreateAgentDto): Promise<AgentEntity> {
    const now = Date.now();
    const agent = this.agents.create({
      id: randomUUID(),
      tenantId: principal.tenantId,
      ownerId: principal.id,
      name: dto.name,
      model: dto.model ?? 'echo-1',
      instructions: dto.instructions ?? '',
      createdAt: now,
      updatedAt: now,
    });
    await this.agents.insert(agent);
    return agent;
  }

  list(scope: RecordScopeFilter, page: PageQuery): Promise<Page<AgentEntity>> {
    return paginate(scopedQuery(this.agents, 'agent', scope), 'agent', page);
  }

  get(id: string, scope: RecordScopeFilter): Promise<AgentEntity> {
    return findScoped(this.agents, 'agent', id, scope);
  }

  async update(id: string, scope: RecordScopeFilter, dto: UpdateAgentDto): Promise<AgentEntity> {
    const agent = await this.get(id, scope);
    Object.assign(agent, dto, { updatedAt: Date.now() });
    await this.agents.update({ id }, { name: agent.name, model: agent.model, instructions: agent.instructions, updatedAt: agent.updatedAt });
    return agent;
  }

  async remove(id: string, scope: RecordScopeFilter): Promise<void> {
    await this.get(id, scope);
    await this.agents.delete({ id });
  }
}
