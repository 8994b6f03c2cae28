import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import {
  AgentOperation,
  CurrentPrincipal,
  RecordScope,
  type Principal,
  type RecordScopeFilter,
} from 'nest-agent-policy';
import { Guarded } from '../common/guarded.decorator';
import { PageQuery, ParseId } from '../common/pagination';
import { CreateAgentDto, UpdateAgentDto } from './agent.dto';
import { AgentsService } from './agents.service';

@ApiTags('agents')
@Controller('agents')
export class AgentsController {
  constructor(private readonly agents: AgentsService) {}

  @Post()
  @Guarded(AgentOperation.AgentCreate, 'agents:write')
  create(@CurrentPrincipal() principal: Principal, @Body() dto: CreateAgentDto) {
    return this.agents.create(principal, dto);
  }

  @Get()
  @Guarded(AgentOperation.AgentList, 'agents:read')
  list(@RecordScope() scope: RecordScopeFilter, @Query() page: PageQuery) {
    return this.agents.list(scope, page);
  }

  @Get(':id')
  @Guarded(AgentOperation.AgentRead, 'agents:read')
  get(@Param('id', ParseId) id: string, @RecordScope() scope: RecordScopeFilter) {
    return this.agents.get(id, scope);
  }

  @Patch(':id')
  @Guarded(AgentOperation.AgentUpdate, 'agents:write')
  update(@Param('id', ParseId) id: string, @RecordScope() scope: RecordScopeFilter, @Body() dto: UpdateAgentDto) {
    return this.agents.update(id, scope, dto);
  }

  @Delete(':id')
  @HttpCode(204)
  @Guarded(AgentOperation.AgentDelete, 'agents:write')
  async remove(@Param('id', ParseId) id: string, @RecordScope() scope: RecordScopeFilter): Promise<void> {
    await this.agents.remove(id, scope);
  }
}
