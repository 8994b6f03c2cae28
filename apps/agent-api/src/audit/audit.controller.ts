import { Controller, Get, Query } from '@nestjs/common';
import { ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';
import {
  AUDIT_EVENT_TYPES,
  AgentOperation,
  AuditService,
  RecordScope,
  type RecordScopeFilter,
} from 'nest-agent-policy';
import { Guarded } from '../common/guarded.decorator';
import { TimeRangeQuery, epochMs } from '../common/time-range.query';

export class AuditQueryDto extends TimeRangeQuery {
  @ApiPropertyOptional({ enum: AUDIT_EVENT_TYPES })
  @IsOptional()
  @IsIn(AUDIT_EVENT_TYPES)
  type?: (typeof AUDIT_EVENT_TYPES)[number];

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(200)
  principalId?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: 500, default: 50 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(500)
  limit?: number;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(400)
  @Matches(/^[A-Za-z0-9_-]+$/)
  cursor?: string;
}

@ApiTags('audit')
@Controller('audit')
export class AuditController {
  constructor(private readonly audit: AuditService) {}

  /** Audit events, newest first; a principal bound to a tenant sees only that tenant's events. */
  @Get()
  @Guarded(AgentOperation.AuditRead, 'audit:read')
  list(@Query() query: AuditQueryDto, @RecordScope() scope: RecordScopeFilter) {
    return this.audit.query({
      type: query.type,
      principalId: query.principalId,
      tenantId: scope.tenantId,
      since: epochMs(query.since),
      until: epochMs(query.until),
      limit: query.limit,
      cursor: query.cursor,
    });
  }

  /**
   * Walks every hash chain and its latest signed anchor and reports the first broken link. A principal bound to a
   * tenant verifies only that tenant's events (count and broken id of its own events); platform auditors see all.
   */
  @Get('verify')
  @Guarded(AgentOperation.AuditRead, 'audit:read')
  verify(@RecordScope() scope: RecordScopeFilter) {
    return this.audit.verify({ tenantId: scope.tenantId });
  }
}
