import { Body, Controller, Delete, Get, Headers, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiHeader, ApiResponse, ApiTags } from '@nestjs/swagger';
import {
  AgentOperation,
  Budget,
  BudgetMeter,
  CurrentPrincipal,
  PolicyValidationPipe,
  RecordScope,
  RequestOrigin,
  type AuditOrigin,
  type Principal,
  type RecordScopeFilter,
} from 'nest-agent-policy';
import { ECHO_MAX_OUTPUT_TOKENS, EchoModel } from '../model/echo.model';
import { Guarded } from '../common/guarded.decorator';
import { PageQuery, ParseId } from '../common/pagination';
import { CreateEventDto, CreateSessionDto, UpdateSessionDto } from './session.dto';
import { EventsService } from './events.service';
import { SessionsService } from './sessions.service';

/** Validates an event body before its budget estimate, with the rules of the global pipe. */
const EVENT_BODY = new PolicyValidationPipe();

@ApiTags('sessions')
@Controller('sessions')
export class SessionsController {
  constructor(
    private readonly sessions: SessionsService,
    private readonly events: EventsService,
  ) {}

  @Post()
  @Guarded(AgentOperation.SessionCreate, 'sessions:write')
  create(
    @CurrentPrincipal() principal: Principal,
    @RecordScope() scope: RecordScopeFilter,
    @Body() dto: CreateSessionDto,
  ) {
    return this.sessions.create(principal, scope, dto);
  }

  @Get()
  @Guarded(AgentOperation.SessionList, 'sessions:read')
  list(@RecordScope() scope: RecordScopeFilter, @Query() page: PageQuery) {
    return this.sessions.list(scope, page);
  }

  @Get(':id')
  @Guarded(AgentOperation.SessionRead, 'sessions:read')
  get(@Param('id', ParseId) id: string, @RecordScope() scope: RecordScopeFilter) {
    return this.sessions.get(id, scope);
  }

  @Patch(':id')
  @Guarded(AgentOperation.SessionUpdate, 'sessions:write')
  update(@Param('id', ParseId) id: string, @RecordScope() scope: RecordScopeFilter, @Body() dto: UpdateSessionDto) {
    return this.sessions.update(id, scope, dto);
  }

  @Delete(':id')
  @HttpCode(204)
  @Guarded(AgentOperation.SessionDelete, 'sessions:write')
  async remove(@Param('id', ParseId) id: string, @RecordScope() scope: RecordScopeFilter): Promise<void> {
    await this.sessions.remove(id, scope);
  }

  /**
   * Budgeted: reserves the message's input tokens (at most its UTF-8 length) plus the model's largest reply (256 tokens) at echo-1's price,
   * then settles to what the reply used (the `usage` the handler returns).
   *
   * With `Accept: text/event-stream` the reply is streamed as Server-Sent Events (`token`, then `done` with the
   * same body as the JSON answer, or `error`): it reserves what the budgets have room for and is cut there.
   */
  @Post(':id/events')
  @Guarded(AgentOperation.EventCreate, 'events:write')
  @ApiResponse({
    status: 201,
    description: 'Budgeted. Headers X-Budget-Remaining, X-Budget-Reset, and X-Budget-Warning past the soft limit.',
  })
  @ApiResponse({
    status: 402,
    description: '`budget_exceeded`: a budget would be exceeded; the body names scope, period, unit and resetAt.',
  })
  @ApiHeader({ name: 'X-Approval-Id', required: false, description: 'An approved approval for this exact request' })
  @ApiHeader({
    name: 'Accept',
    required: false,
    description: '`text/event-stream` streams the reply: `token` events, then `done` (or `error`)',
  })
  @Budget<{ body?: unknown; params?: { id?: unknown } }>({
    model: 'echo-1',
    context: (req) => ({ sessionId: typeof req.params?.id === 'string' ? req.params.id : null }),
    // Interceptors run before pipes: the body is validated here first, so nothing is reserved or counted for input
    // that will be refused (a 1 MiB message is a 400, not a 402). The estimate is cheap and never below the count.
    estimate: async (req) => {
      const dto = (await EVENT_BODY.transform(req.body, { type: 'body', metatype: CreateEventDto })) as CreateEventDto;
      return { inputTokens: EchoModel.estimateTokens(dto.message), outputTokens: ECHO_MAX_OUTPUT_TOKENS };
    },
  })
  async createEvent(
    @Param('id', ParseId) id: string,
    @CurrentPrincipal() principal: Principal,
    @RecordScope() scope: RecordScopeFilter,
    @Body() dto: CreateEventDto,
    @RequestOrigin() origin: AuditOrigin,
    @BudgetMeter() meter: BudgetMeter,
    @Headers('x-approval-id') approvalId: string | undefined,
    @Headers('accept') accept: string | undefined,
  ) {
    const session = await this.events.session(id, scope);
    const toolOrigin = {
      requestId: origin.requestId ?? undefined,
      ip: origin.ip ?? undefined,
      approvalId: typeof approvalId === 'string' && approvalId ? approvalId : undefined,
    };
    if (typeof accept === 'string' && accept.toLowerCase().includes('text/event-stream')) {
      return this.events.streamExchange(principal, session, dto.message, meter, toolOrigin);
    }
    return this.events.exchange(principal, session, dto.message, toolOrigin);
  }

  @Get(':id/events')
  @Guarded(AgentOperation.EventList, 'events:read')
  async listEvents(
    @Param('id', ParseId) id: string,
    @RecordScope() scope: RecordScopeFilter,
    @Query() page: PageQuery,
  ) {
    const session = await this.events.session(id, scope);
    return this.events.list(session, page);
  }
}
