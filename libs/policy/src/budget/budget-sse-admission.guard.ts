import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { BudgetInterceptor } from './budget.interceptor';
import { findBudgetInterceptor } from './budget-route.interceptor';

/**
 * Reserves the budget of a budgeted `@Sse()` route before Nest writes the SSE headers, so that a refused admission
 * (402, or 403 `approval_required`) is a plain JSON answer; the interceptor then meters the stream. `@Budget()` puts
 * it on its route, so it runs after the library's global guards (authorization included: a refused call reserves
 * nothing); every route that is not `@Sse()` passes untouched. Without a `BudgetInterceptor` provider it passes
 * too: the app's own global interceptor then admits the call itself.
 */
@Injectable()
export class BudgetSseAdmissionGuard implements CanActivate {
  private budget: BudgetInterceptor | null | undefined;

  constructor(private readonly modules: ModuleRef) {}

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    if (this.budget === undefined) this.budget = findBudgetInterceptor(this.modules);
    return this.budget ? this.budget.admitBeforeSse(context) : true;
  }
}
