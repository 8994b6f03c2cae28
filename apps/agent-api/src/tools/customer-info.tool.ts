import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { AgentTool, PolicyNotFoundException, type ToolCallContext } from 'nest-agent-policy';
import type { Repository } from 'typeorm';
import { CustomerEntity, SessionEntity } from '../database/entities';
import { customerInTenant, sessionInTenant } from './customer-records';

/** `get_customer_info`: the session's own customer, never another (404, as for a missing one). Read-only. */
@Injectable()
export class CustomerInfoTool {
  constructor(
    @InjectRepository(CustomerEntity) private readonly customers: Repository<CustomerEntity>,
    @InjectRepository(SessionEntity) private readonly sessions: Repository<SessionEntity>,
  ) {}

  @AgentTool({
    name: 'get_customer_info',
    description: "Answers the session's customer: name and email.",
    input: {
      type: 'object',
      properties: { customer_id: { type: 'string', format: 'uuid' } },
      required: ['customer_id'],
    },
    timeoutMs: 2000,
  })
  async get(
    args: { customer_id: string },
    ctx: ToolCallContext,
  ): Promise<{ id: string; name: string; email: string | null }> {
    const session = await sessionInTenant(this.sessions, ctx.principal, ctx.sessionId);
    if (session.customerId !== args.customer_id) throw new PolicyNotFoundException('Customer not found');
    const customer = await customerInTenant(this.customers, ctx.principal, args.customer_id);
    return { id: customer.id, name: customer.name, email: customer.email };
  }
}
