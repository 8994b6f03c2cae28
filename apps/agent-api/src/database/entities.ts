import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { encryptedColumn } from 'nest-agent-policy';
import { fieldEncryption } from './data-protection';

const epochMs = {
  to: (v: number | null | undefined) => v,
  from: (v: string | number | null) => (v === null || v === undefined ? v : Number(v)),
};

/** Columns every tenant-owned record has. */
abstract class OwnedRecord {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Index()
  @Column({ name: 'tenant_id', type: 'varchar', length: 200, nullable: true })
  tenantId!: string | null;

  @Index()
  @Column({ name: 'owner_id', type: 'varchar', length: 200 })
  ownerId!: string;

  @Column({ name: 'created_at', type: 'bigint', transformer: epochMs })
  createdAt!: number;

  @Column({ name: 'updated_at', type: 'bigint', transformer: epochMs })
  updatedAt!: number;
}

@Entity('agents')
export class AgentEntity extends OwnedRecord {
  @Column({ type: 'varchar', length: 200 })
  name!: string;

  @Column({ type: 'varchar', length: 100 })
  model!: string;

  @Column({ type: 'text' })
  instructions!: string;
}

/** Customers' personal data is encrypted at rest; `email` is found through its blind index. */
@Entity('customers')
export class CustomerEntity extends OwnedRecord {
  @Column({ type: 'text', transformer: encryptedColumn(fieldEncryption, 'customers.name') })
  name!: string;

  @Column({ type: 'text', nullable: true, transformer: encryptedColumn(fieldEncryption, 'customers.email') })
  email!: string | null;

  @Column({ type: 'text', nullable: true, transformer: encryptedColumn(fieldEncryption, 'customers.phone') })
  phone!: string | null;

  /** HMAC of the normalised e-mail, for `GET /customers?email=`; never part of a response. */
  @Column({ name: 'email_bidx', type: 'varchar', length: 64, nullable: true, select: false })
  emailIndex?: string | null;
}

@Entity('sessions')
export class SessionEntity extends OwnedRecord {
  @Index()
  @Column({ name: 'agent_id', type: 'varchar', length: 36 })
  agentId!: string;

  @Column({ name: 'customer_id', type: 'varchar', length: 36, nullable: true })
  customerId!: string | null;

  @Column({ type: 'varchar', length: 20 })
  status!: 'open' | 'closed';

  @Column({ type: 'varchar', length: 200, nullable: true })
  title!: string | null;
}

@Entity('events')
export class EventEntity extends OwnedRecord {
  @Index()
  @Column({ name: 'session_id', type: 'varchar', length: 36 })
  sessionId!: string;

  @Column({ type: 'varchar', length: 20 })
  role!: 'customer' | 'agent';

  /** The customer's message or the agent's reply, encrypted at rest. */
  @Column({ type: 'text', transformer: encryptedColumn(fieldEncryption, 'events.message') })
  message!: string;

  @Column({ name: 'input_tokens', type: 'integer', default: 0 })
  inputTokens!: number;

  @Column({ name: 'output_tokens', type: 'integer', default: 0 })
  outputTokens!: number;

  /** The tools the agent called for this reply (JSON), or null. */
  @Column({ name: 'tool_calls', type: 'simple-json', nullable: true })
  toolCalls!: ToolCallRecord[] | null;
}

/** JSON data as stored (parsed JSON: an object or array, or a scalar). */
export type Json = object | string | number | boolean | null;

/** One tool call of a reply: what was asked and how it ended. */
export interface ToolCallRecord {
  name: string;
  args: Json;
  status: 'ok' | 'error';
  result?: Json;
  error?: { statusCode: number; code: string; message: string; approvalId?: string };
}

@Entity('tickets')
export class TicketEntity extends OwnedRecord {
  @Index()
  @Column({ name: 'customer_id', type: 'varchar', length: 36 })
  customerId!: string;

  @Column({ name: 'session_id', type: 'varchar', length: 36, nullable: true })
  sessionId!: string | null;

  @Column({ type: 'varchar', length: 200 })
  subject!: string;

  @Column({ type: 'text' })
  description!: string;

  @Column({ type: 'varchar', length: 10 })
  priority!: 'low' | 'normal' | 'high' | 'urgent';

  @Column({ type: 'varchar', length: 20 })
  status!: 'open' | 'closed';
}

/** A run's JSON columns, stored as text on SQLite and PostgreSQL alike. */
const json = {
  to: (v: unknown) => (v === undefined ? v : JSON.stringify(v)),
  from: (v: string | null) => (v === null || v === undefined ? v : (JSON.parse(v) as unknown)),
};

@Entity('runs')
export class RunEntity extends OwnedRecord {
  @Index()
  @Column({ name: 'session_id', type: 'varchar', length: 36 })
  sessionId!: string;

  @Column({ type: 'varchar', length: 24 })
  status!: 'running' | 'completed' | 'stopped' | 'awaiting_approval' | 'cancelled' | 'failed';

  @Column({ name: 'stop_reason', type: 'varchar', length: 32, nullable: true })
  stopReason!: string | null;

  @Column({ name: 'approval_id', type: 'varchar', length: 36, nullable: true })
  approvalId!: string | null;

  /** What was asked: `{ steps: [{ message }], repeat }`. */
  @Column({ type: 'text', transformer: json })
  script!: unknown;

  @Column({ type: 'text', transformer: json })
  steps!: unknown[];

  @Column({ name: 'tool_calls', type: 'text', transformer: json })
  toolCalls!: unknown[];

  @Column({ type: 'text', transformer: json })
  usage!: { inputTokens: number; outputTokens: number; cost: number };

  /** The run guard's state, so what the run used survives the process. */
  @Column({ name: 'guard_state', type: 'text', transformer: json })
  guardState!: unknown;
}

export const APP_ENTITIES = [AgentEntity, CustomerEntity, SessionEntity, EventEntity, TicketEntity, RunEntity];
