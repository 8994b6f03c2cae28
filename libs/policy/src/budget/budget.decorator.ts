import { SetMetadata } from '@nestjs/common';
import { BUDGET_KEY } from '../policy.constants';
import type { BudgetSpec } from './budget.types';

/**
 * Marks a route (or every route of a controller; the method wins) as budgeted: before the handler runs, the
 * estimated charge is reserved against every budget that applies to the caller; afterwards it is settled to the
 * usage the handler reported, or released when the handler fails.
 */
export const Budget = <TRequest = unknown>(spec: BudgetSpec<TRequest>): MethodDecorator & ClassDecorator =>
  SetMetadata(BUDGET_KEY, spec);
