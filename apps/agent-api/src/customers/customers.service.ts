import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Brackets, type Repository } from 'typeorm';
import { normalizeEmail, type Principal, type RecordScopeFilter } from 'nest-agent-policy';
import { OwnedRecordsService, dropUndefined } from '../common/owned-records.service';
import { paginate, type Page } from '../common/pagination';
import { scopedQuery } from '../common/scoped-records';
import { fieldEncryption } from '../database/data-protection';
import { CustomerEntity } from '../database/entities';
import type { CreateCustomerDto, CustomerListQuery, UpdateCustomerDto } from './customer.dto';

/** The blind index of an e-mail (null for none). */
const emailIndex = (email: string | null | undefined) =>
  email === undefined ? undefined : email === null ? null : fieldEncryption.blindIndex(email, normalizeEmail);

/** The record as a response shows it: the blind index stays inside. */
function present(row: CustomerEntity): CustomerEntity {
  delete row.emailIndex;
  return row;
}

@Injectable()
export class CustomersService extends OwnedRecordsService<CustomerEntity, CreateCustomerDto, UpdateCustomerDto> {
  constructor(@InjectRepository(CustomerEntity) customers: Repository<CustomerEntity>) {
    super(customers, 'customer');
  }

  protected fields(dto: CreateCustomerDto) {
    return {
      name: dto.name,
      email: dto.email ?? null,
      phone: dto.phone ?? null,
      emailIndex: emailIndex(dto.email ?? null),
    };
  }

  protected changes(dto: UpdateCustomerDto) {
    return dropUndefined({ name: dto.name, email: dto.email, phone: dto.phone, emailIndex: emailIndex(dto.email) });
  }

  override async create(principal: Principal, dto: CreateCustomerDto): Promise<CustomerEntity> {
    return present(await super.create(principal, dto));
  }

  override async update(id: string, scope: RecordScopeFilter, dto: UpdateCustomerDto): Promise<CustomerEntity> {
    return present(await super.update(id, scope, dto));
  }

  /** A page of the caller's customers; with `email`, only those whose blind index matches (rows not yet rotated compare in clear). */
  override list(scope: RecordScopeFilter, query: CustomerListQuery): Promise<Page<CustomerEntity>> {
    const qb = scopedQuery(this.repo, this.alias, scope);
    if (query.email !== undefined) {
      const normalized = normalizeEmail(query.email);
      qb.andWhere(
        new Brackets((w) =>
          w
            .where('customer.emailIndex = :emailIndex', { emailIndex: emailIndex(normalized) })
            .orWhere(
              "customer.emailIndex IS NULL AND substr(customer.email, 1, 3) <> 'v1:' AND LOWER(TRIM(customer.email)) = :legacyEmail",
              {
                legacyEmail: normalized,
              },
            ),
        ),
      );
    }
    return paginate(qb, this.alias, query);
  }
}
