import { PolicyNotFoundException, type Principal } from 'nest-agent-policy';
import type { Repository } from 'typeorm';
import type { CustomerEntity, SessionEntity } from '../database/entities';

/** Tenant rule of a tool: a record of another tenant is a 404, as on the HTTP routes. */
export function sameTenant(principal: Principal, record: { tenantId: string | null }): boolean {
  return principal.tenantId === null || principal.tenantId === undefined || record.tenantId === principal.tenantId;
}

/** The customer `id` in the caller's tenant. @throws PolicyNotFoundException */
export async function customerInTenant(
  customers: Repository<CustomerEntity>,
  principal: Principal,
  id: string,
): Promise<CustomerEntity> {
  const customer = await customers.findOneBy({ id });
  if (!customer || !sameTenant(principal, customer)) throw new PolicyNotFoundException('Customer not found');
  return customer;
}

/** The session the call runs in, in the caller's tenant. @throws PolicyNotFoundException when missing. */
export async function sessionInTenant(
  sessions: Repository<SessionEntity>,
  principal: Principal,
  id: string | undefined,
): Promise<SessionEntity> {
  const session = id ? await sessions.findOneBy({ id }) : null;
  if (!session || !sameTenant(principal, session)) throw new PolicyNotFoundException('Session not found');
  return session;
}
