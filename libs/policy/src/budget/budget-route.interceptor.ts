import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { httpRequest } from '../common/http-context';
import { ModuleRef } from '@nestjs/core';
import type { Observable } from 'rxjs';
import { PolicyUnavailableException } from '../policy.exceptions';
import { BudgetInterceptor, budgetIntercepted } from './budget.interceptor';

/**
 * The app's `BudgetInterceptor` (the `PolicyModule` provider, or the class an app put in its place with
 * `overrideProvider`), found once; null when the app registered none by that token (e.g. only as its own
 * `APP_INTERCEPTOR`).
 */
export function findBudgetInterceptor(modules: ModuleRef): BudgetInterceptor | null {
  try {
    return modules.get(BudgetInterceptor, { strict: false });
  } catch {
    return null;
  }
}

/**
 * What `@Budget()` puts on its route: hands the call to the app's `BudgetInterceptor`. Only budgeted routes pass
 * through Nest's interceptor chain this way; every other route skips it. A budgeted route with no `BudgetInterceptor`
 * anywhere (no `PolicyModule`, no global one of the app's) answers 503 rather than running unmetered.
 */
@Injectable()
export class BudgetRouteInterceptor implements NestInterceptor {
  private target: BudgetInterceptor | null | undefined;

  constructor(private readonly modules: ModuleRef) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (this.target === undefined) this.target = findBudgetInterceptor(this.modules);
    if (this.target) return this.target.intercept(context, next);
    // An app's own global BudgetInterceptor ran first (global interceptors wrap route ones) and metered the call.
    if (budgetIntercepted(httpRequest(context))) return next.handle();
    throw new PolicyUnavailableException();
  }
}
