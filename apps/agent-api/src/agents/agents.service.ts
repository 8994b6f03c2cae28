import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { OwnedRecordsService, dropUndefined } from '../common/owned-records.service';
import { AgentEntity } from '../database/entities';
import type { CreateAgentDto, UpdateAgentDto } from './agent.dto';

@Injectable()
export class AgentsService extends OwnedRecordsService<AgentEntity, CreateAgentDto, UpdateAgentDto> {
  constructor(@InjectRepository(AgentEntity) agents: Repository<AgentEntity>) {
    super(agents, 'agent');
  }

  protected fields(dto: CreateAgentDto) {
    return { name: dto.name, model: dto.model ?? 'echo-1', instructions: dto.instructions ?? '' };
  }

  protected changes(dto: UpdateAgentDto) {
    return dropUndefined({ name: dto.name, model: dto.model, instructions: dto.instructions });
  }
}
