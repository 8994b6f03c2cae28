import type { Provider } from '@nestjs/common';
import { ApprovalGate } from './approval.gate';
import { ApprovalService } from './approval.service';
import { ApprovalStore } from './approval.store';

/**
 * Providers of the approval capability: the database-backed `ApprovalService`, the `ApprovalStore` the gate uses
 * (the service, unless the app provides another store under that token) and the `ApprovalGate`.
 */
export const APPROVAL_PROVIDERS: Provider[] = [
  ApprovalService,
  { provide: ApprovalStore, useExisting: ApprovalService },
  ApprovalGate,
];

export const APPROVAL_EXPORTS: Provider[] = [ApprovalService, ApprovalStore as unknown as Provider, ApprovalGate];
