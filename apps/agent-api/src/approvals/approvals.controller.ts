import { Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { IsIn, IsOptional } from 'class-validator';
import {
  AgentOperation,
  ApprovalService,
  CurrentPrincipal,
  RecordScope,
  RequestOrigin,
  type AuditOrigin,
  type Principal,
  type RecordScopeFilter,
} from 'nest-agent-policy';
import { Guarded } from '../common/guarded.decorator';
import { PageQuery, ParseId } from '../common/pagination';

const STATUSES = ['pending', 'approved', 'denied', 'consumed', 'expired'] as const;

export class ApprovalQueryDto extends PageQuery {
  @ApiPropertyOptional({ enum: STATUSES })
  @IsOptional()
  @IsIn(STATUSES)
  status?: (typeof STATUSES)[number];
}

@ApiTags('approvals')
@Controller('approvals')
export class ApprovalsController {
  constructor(private readonly approvals: ApprovalService) {}

  @Get()
  @Guarded(AgentOperation.ApprovalList, 'approvals:read')
  list(@Query() query: ApprovalQueryDto, @RecordScope() scope: RecordScopeFilter) {
    return this.approvals.list({
      tenantId: scope.tenantId,
      status: query.status,
      limit: query.limit,
      cursor: query.cursor,
    });
  }

  /** Approves a pending request; its caller may then retry once with `X-Approval-Id`. */
  @Post(':id/approve')
  @HttpCode(200)
  @Guarded(AgentOperation.ApprovalDecide, 'approvals:write')
  approve(
    @Param('id', ParseId) id: string,
    @CurrentPrincipal() principal: Principal,
    @RequestOrigin() origin: AuditOrigin,
  ) {
    return this.approvals.decide(id, principal, 'approve', origin);
  }

  @Post(':id/deny')
  @HttpCode(200)
  @Guarded(AgentOperation.ApprovalDecide, 'approvals:write')
  deny(
    @Param('id', ParseId) id: string,
    @CurrentPrincipal() principal: Principal,
    @RequestOrigin() origin: AuditOrigin,
  ) {
    return this.approvals.decide(id, principal, 'deny', origin);
  }
}
