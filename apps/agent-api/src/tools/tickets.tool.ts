import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { AgentTool, type ToolCallContext } from 'nest-agent-policy';
import type { Repository } from 'typeorm';
import { CustomerEntity, TicketEntity } from '../database/entities';
import { customerInTenant } from './customer-records';

/** `create_ticket`: opens a support ticket for a customer of the caller's tenant. */
@Injectable()
export class TicketsTool {
  constructor(
    @InjectRepository(TicketEntity) private readonly tickets: Repository<TicketEntity>,
    @InjectRepository(CustomerEntity) private readonly customers: Repository<CustomerEntity>,
  ) {}

  @AgentTool({
    name: 'create_ticket',
    description: 'Opens a support ticket for a customer.',
    input: {
      type: 'object',
      properties: {
        customer_id: { type: 'string', format: 'uuid' },
        subject: { type: 'string', minLength: 1, maxLength: 200, 'x-sanitize': 'text' },
        description: { type: 'string', minLength: 1, maxLength: 5000, 'x-sanitize': 'text' },
        priority: { enum: ['low', 'normal', 'high', 'urgent'] },
      },
      required: ['customer_id', 'subject', 'description', 'priority'],
    },
    cost: { requests: 1 },
    timeoutMs: 5000,
  })
  async create(
    args: { customer_id: string; subject: string; description: string; priority: TicketEntity['priority'] },
    ctx: ToolCallContext,
  ): Promise<TicketEntity> {
    const customer = await customerInTenant(this.customers, ctx.principal, args.customer_id);
    const now = Date.now();
    const ticket = this.tickets.create({
      id: randomUUID(),
      tenantId: customer.tenantId,
      ownerId: ctx.principal.id,
      customerId: customer.id,
      sessionId: ctx.sessionId ?? null,
      subject: args.subject,
      description: args.description,
      priority: args.priority,
      status: 'open',
      createdAt: now,
      updatedAt: now,
    });
    await this.tickets.insert(ticket);
    return ticket;
  }
}
