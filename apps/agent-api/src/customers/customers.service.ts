import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { OwnedRecordsService, dropUndefined } from '../common/owned-records.service';
import { CustomerEntity } from '../database/entities';
import type { CreateCustomerDto, UpdateCustomerDto } from './customer.dto';

@Injectable()
export class CustomersService extends OwnedRecordsService<CustomerEntity, CreateCustomerDto, UpdateCustomerDto> {
  constructor(@InjectRepository(CustomerEntity) customers: Repository<CustomerEntity>) {
    super(customers, 'customer');
  }

  protected fields(dto: CreateCustomerDto) {
    return { name: dto.name, email: dto.email ?? null };
  }

  protected changes(dto: UpdateCustomerDto) {
    return dropUndefined({ name: dto.name, email: dto.email });
  }
}
