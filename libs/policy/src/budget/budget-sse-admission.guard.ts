import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { BudgetInterceptor } from './budget.interceptor';

/**
 * Reserves the budget of a budgeted `@Sse()` route before Nest writes the SSE headers, so that a refused admission
 * (402, or 403 `approval_required`) is a plain JSON answer; the interceptor then meters the stream. Runs last of
 * the library's guards, after the authorization guard (a refused call reserves nothing); every other route passes
 * untouched.
 */
@Injectable()
export class BudgetSseAdmissionGuard implements CanActivate {
  constructor(private readonly budget: BudgetInterceptor) {}

  canActivate(context: ExecutionContext): Promise<boolean> {
    return this.budget.admitBeforeSse(context);
  }
}
