import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { httpRequest } from '../common/http-context';
import { PolicyRequest } from '../common/policy-request';
import { PRINCIPAL_REQUEST_KEY } from '../policy.constants';
import type { Principal } from '../authentication/principal.interface';
import type { RecordScope as RecordScopeFilter } from '../authorization/tenant.rules';

/**
 * The authenticated principal of the request.
 * @example @Get() list(@CurrentPrincipal() principal: Principal) {}
 */
export const CurrentPrincipal = createParamDecorator((_data: unknown, ctx: ExecutionContext) => {
  return (httpRequest(ctx) as Record<string, Principal | undefined>)[PRINCIPAL_REQUEST_KEY];
});

/**
 * The records the caller may reach (its tenant, and itself as owner for `own` roles), as decided by the
 * `AuthorizationGuard`. Apply it to every query: a record outside it is a 404.
 * @example @Get(':id') findOne(@Param('id') id: string, @RecordScope() scope: RecordScope) {}
 */
export const RecordScope = createParamDecorator((_data: unknown, ctx: ExecutionContext): RecordScopeFilter => {
  return PolicyRequest.of(httpRequest(ctx))?.recordScope ?? { tenantId: '\u0000deny' };
});

/**
 * Where the request came from — its request id and client IP — to pass to library calls that record audit events
 * (`ApiKeyService.create`, `RevocationService.revoke`, `ApprovalService.decide` …).
 * @example @Post() create(@Body() dto: Dto, @RequestOrigin() origin: AuditOrigin) { return this.keys.create(input, origin); }
 */
export const RequestOrigin = createParamDecorator((_data: unknown, ctx: ExecutionContext) => {
  const state = PolicyRequest.of(httpRequest(ctx));
  return { requestId: state?.requestId ?? null, ip: state?.ip ?? null };
});
