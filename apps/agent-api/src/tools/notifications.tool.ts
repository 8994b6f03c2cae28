import { Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { AgentTool, type ToolCallContext } from 'nest-agent-policy';
import type { Repository } from 'typeorm';
import { CustomerEntity } from '../database/entities';
import { customerInTenant } from './customer-records';

/** `send_notification`: messages a customer. Every call needs a human approval first. */
@Injectable()
export class NotificationsTool {
  private readonly logger = new Logger('Notifications');

  constructor(@InjectRepository(CustomerEntity) private readonly customers: Repository<CustomerEntity>) {}

  @AgentTool({
    name: 'send_notification',
    description: 'Sends a text notification to a customer (needs an approval).',
    input: {
      type: 'object',
      properties: {
        customer_id: { type: 'string', format: 'uuid' },
        text: { type: 'string', minLength: 1, maxLength: 1000, 'x-sanitize': 'text' },
      },
      required: ['customer_id', 'text'],
    },
    approval: true,
    sensitive: ['text'],
    timeoutMs: 5000,
  })
  async send(
    args: { customer_id: string; text: string },
    ctx: ToolCallContext,
  ): Promise<{ notificationId: string; customerId: string; status: 'sent' }> {
    const customer = await customerInTenant(this.customers, ctx.principal, args.customer_id);
    const notificationId = randomUUID();
    // The sample app has no mail or SMS gateway: delivery is the log line (without the text).
    this.logger.log(`notification ${notificationId} to customer ${customer.id}`);
    return { notificationId, customerId: customer.id, status: 'sent' };
  }
}
