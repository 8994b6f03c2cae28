import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import type { Repository } from 'typeorm';
import type { Principal, RecordScopeFilter } from 'nest-agent-policy';
import { paginate, type Page, type PageQuery } from '../common/pagination';
import { findScoped, scopedQuery } from '../common/scoped-records';
import { CustomerEntity } from '../database/entities';
import type { CreateCustomerDto, UpdateCustomerDto } from './customer.dto';

@Injectable()
export class CustomersService {
  constructor(@InjectRepository(CustomerEntity) private readonly customers: Repository<CustomerEntity>) {}

  async create(principal: Principal, dto: CreateCustomerDto): Promise<CustomerEntity> {
    const now = Date.now();
    const customer = this.customers.create({
      id: randomUUID(),
      tenantId: principal.tenantId,
      ownerId: principal.id,
      name: dto.name,
      email: dto.email ?? null,
      createdAt: now,
      updatedAt: now,
    });
    await this.customers.insert(customer);
    return customer;
  }

  list(scope: RecordScopeFilter, page: PageQuery): Promise<Page<CustomerEntity>> {
    return paginate(scopedQuery(this.customers, 'customer', scope), 'customer', page);
  }

  get(id: string, scope: RecordScopeFilter): Promise<CustomerEntity> {
    return findScoped(this.customers, 'customer', id, scope);
  }

  async update(id: string, scope: RecordScopeFilter, dto: UpdateCustomerDto): Promise<CustomerEntity> {
    const customer = await this.get(id, scope);
    Object.assign(customer, dto, { updatedAt: Date.now() });
    await this.customers.update({ id }, { name: customer.name, email: customer.email, updatedAt: customer.updatedAt });
    return customer;
  }

  async remove(id: string, scope: RecordScopeFilter): Promise<void> {
    await this.get(id, scope);
    await this.customers.delete({ id });
  }
}
