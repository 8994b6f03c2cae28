import { applyDecorators, SetMetadata, UseGuards, UseInterceptors } from '@nestjs/common';
import { BUDGET_KEY } from '../policy.constants';
import { BudgetRouteInterceptor } from './budget-route.interceptor';
import { BudgetSseAdmissionGuard } from './budget-sse-admission.guard';
import type { BudgetSpec } from './budget.types';

/**
 * Marks a route (or every route of a controller; the method wins) as budgeted: before the handler runs, the
 * estimated charge is reserved against every budget that applies to the caller; afterwards it is settled to the
 * usage it reported, or released when the handler fails. It also puts the budget's guard (the admission of an
 * `@Sse()` route) and interceptor on the route: routes without `@Budget()` pass through no interceptor of the library.
 */
export const Budget = <TRequest = unknown>(spec: BudgetSpec<TRequest>): MethodDecorator & ClassDecorator =>
  applyDecorators(
    SetMetadata(BUDGET_KEY, spec),
    UseGuards(BudgetSseAdmissionGuard),
    UseInterceptors(BudgetRouteInterceptor),
  );
