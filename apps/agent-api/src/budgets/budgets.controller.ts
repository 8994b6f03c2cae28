import { Controller, Get, Query } from '@nestjs/common';
import { ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { IsIn, IsOptional } from 'class-validator';
import {
  AgentOperation,
  BudgetService,
  CurrentPrincipal,
  RecordScope,
  UsageLedgerService,
  type Principal,
  type RecordScopeFilter,
} from 'nest-agent-policy';
import { Guarded } from '../common/guarded.decorator';
import { TimeRangeQuery, epochMs } from '../common/time-range.query';

export class UsageQueryDto extends TimeRangeQuery {
  @ApiPropertyOptional({ enum: ['model', 'principal', 'day'], default: 'day' })
  @IsOptional()
  @IsIn(['model', 'principal', 'day'])
  groupBy?: 'model' | 'principal' | 'day';
}

@ApiTags('budgets')
@Controller()
export class BudgetsController {
  constructor(
    private readonly budgets: BudgetService,
    private readonly ledger: UsageLedgerService,
  ) {}

  /** The caller's budgets, per scope and period: limit, used, reserved, remaining, reset time. */
  @Get('budgets/remaining')
  @Guarded(AgentOperation.BudgetRead, 'budgets:read')
  remaining(@CurrentPrincipal() principal: Principal) {
    return this.budgets.remaining(principal);
  }

  /** Settled usage from the ledger, grouped by model, principal or UTC day; a tenant sees its own. */
  @Get('usage')
  @Guarded(AgentOperation.UsageRead, 'usage:read')
  async usage(@Query() query: UsageQueryDto, @RecordScope() scope: RecordScopeFilter) {
    const groupBy = query.groupBy ?? 'day';
    const items = await this.ledger.aggregate({
      groupBy,
      since: epochMs(query.since),
      until: epochMs(query.until),
      tenantId: scope.tenantId,
    });
    return { groupBy, items };
  }
}
