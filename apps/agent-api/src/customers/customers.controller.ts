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
import { ParseId } from '../common/pagination';
import { CreateCustomerDto, CustomerListQuery, UpdateCustomerDto } from './customer.dto';
import { CustomersService } from './customers.service';

@ApiTags('customers')
@Controller('customers')
export class CustomersController {
  constructor(private readonly customers: CustomersService) {}

  @Post()
  @Guarded(AgentOperation.CustomerCreate, 'customers:write')
  create(@CurrentPrincipal() principal: Principal, @Body() dto: CreateCustomerDto) {
    return this.customers.create(principal, dto);
  }

  @Get()
  @Guarded(AgentOperation.CustomerList, 'customers:read')
  list(@RecordScope() scope: RecordScopeFilter, @Query() page: CustomerListQuery) {
    return this.customers.list(scope, page);
  }

  @Get(':id')
  @Guarded(AgentOperation.CustomerRead, 'customers:read')
  get(@Param('id', ParseId) id: string, @RecordScope() scope: RecordScopeFilter) {
    return this.customers.get(id, scope);
  }

  @Patch(':id')
  @Guarded(AgentOperation.CustomerUpdate, 'customers:write')
  update(@Param('id', ParseId) id: string, @RecordScope() scope: RecordScopeFilter, @Body() dto: UpdateCustomerDto) {
    return this.customers.update(id, scope, dto);
  }

  @Delete(':id')
  @HttpCode(204)
  @Guarded(AgentOperation.CustomerDelete, 'customers:write')
  async remove(@Param('id', ParseId) id: string, @RecordScope() scope: RecordScopeFilter): Promise<void> {
    await this.customers.remove(id, scope);
  }
}
