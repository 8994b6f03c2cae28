/**
 * The operations catalogue of an agent API: `<resource>.<action>`. Apps may add their own operations through
 * the policy document's `operations` list.
 */
export const AgentOperation = {
  AgentCreate: 'agent.create',
  AgentRead: 'agent.read',
  AgentList: 'agent.list',
  AgentUpdate: 'agent.update',
  AgentDelete: 'agent.delete',
  CustomerCreate: 'customer.create',
  CustomerRead: 'customer.read',
  CustomerList: 'customer.list',
  CustomerUpdate: 'customer.update',
  CustomerDelete: 'customer.delete',
  SessionCreate: 'session.create',
  SessionRead: 'session.read',
  SessionList: 'session.list',
  SessionUpdate: 'session.update',
  SessionDelete: 'session.delete',
  EventCreate: 'event.create',
  EventList: 'event.list',
  ToolList: 'tool.list',
  ToolInvoke: 'tool.invoke',
  ApiKeyCreate: 'api-key.create',
  ApiKeyList: 'api-key.list',
  ApiKeyDelete: 'api-key.delete',
  TokenRevoke: 'token.revoke',
  BudgetRead: 'budget.read',
  BudgetUpdate: 'budget.update',
  UsageRead: 'usage.read',
  AuditRead: 'audit.read',
  ApprovalList: 'approval.list',
  ApprovalDecide: 'approval.decide',
  MetricsRead: 'metrics.read',
  RunCreate: 'run.create',
  RunRead: 'run.read',
  RunList: 'run.list',
  RunCancel: 'run.cancel',
} as const;

export type AgentOperation = (typeof AgentOperation)[keyof typeof AgentOperation];

/** Every operation of the built-in catalogue. */
export const AGENT_OPERATIONS: readonly string[] = Object.values(AgentOperation);

const OPERATION_FORMAT = /^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+$/;

/** True when `operation` is a well-formed dotted operation name (`resource.action`). */
export function isOperationName(operation: string): boolean {
  return OPERATION_FORMAT.test(operation);
}
