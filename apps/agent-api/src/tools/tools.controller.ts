import { Body, Controller, Get, Headers, HttpCode, Param, Post } from '@nestjs/common';
import { ApiHeader, ApiResponse, ApiTags } from '@nestjs/swagger';
import { SkipThrottle } from '@nestjs/throttler';
import {
  AgentOperation,
  CurrentPrincipal,
  RecordScope,
  RequestOrigin,
  ToolExecutor,
  type AuditOrigin,
  type Principal,
  type RecordScopeFilter,
} from 'nest-agent-policy';
import { Guarded } from '../common/guarded.decorator';
import { ParseId } from '../common/pagination';
import { EventsService } from '../sessions/events.service';
import { ToolCallDto } from './tool-call.dto';

@ApiTags('tools')
@Controller()
export class ToolsController {
  constructor(
    private readonly tools: ToolExecutor,
    private readonly events: EventsService,
  ) {}

  /** The tools the caller may invoke, with their input schemas. */
  @Get('tools')
  @Guarded(AgentOperation.ToolList, 'tools:read')
  list(@CurrentPrincipal() principal: Principal) {
    return { items: this.tools.list(principal) };
  }

  /**
   * Runs a tool in a session, under the caller's policy. The call is rate limited by the tool executor (the
   * principal's buckets and `rateLimits.tools.<name>`), so the route itself is not counted a second time.
   */
  @Post('sessions/:id/tools/:name')
  @HttpCode(200)
  @SkipThrottle()
  @Guarded(AgentOperation.ToolInvoke, 'tools:write')
  @ApiHeader({ name: 'X-Approval-Id', required: false, description: 'An approved approval for this exact call' })
  @ApiResponse({ status: 200, description: '`{ tool, result, durationMs }`' })
  @ApiResponse({
    status: 403,
    description: '`forbidden` (unknown or not allowed tool), `insufficient_scope`, `approval_required`',
  })
  @ApiResponse({ status: 400, description: '`validation_failed`: the message names the JSON path of the bad argument' })
  @ApiResponse({ status: 429, description: '`rate_limited`: a rate limit or the concurrency cap' })
  @ApiResponse({ status: 502, description: '`tool_failed`' })
  @ApiResponse({ status: 504, description: '`tool_timeout`' })
  async invoke(
    @Param('id', ParseId) id: string,
    @Param('name') name: string,
    @CurrentPrincipal() principal: Principal,
    @RecordScope() scope: RecordScopeFilter,
    @RequestOrigin() origin: AuditOrigin,
    @Headers('x-approval-id') approvalId: string | undefined,
    @Body() dto: ToolCallDto,
  ) {
    const session = await this.events.session(id, scope);
    return this.tools.invoke(principal, name, dto.args ?? {}, {
      sessionId: session.id,
      approvalId: typeof approvalId === 'string' && approvalId ? approvalId : undefined,
      requestId: origin.requestId ?? undefined,
      ip: origin.ip ?? undefined,
    });
  }
}
