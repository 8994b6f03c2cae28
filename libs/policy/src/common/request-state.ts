import { randomUUID } from 'node:crypto';
import type { Principal } from '../authentication/principal.interface';
import type { RecordScope } from '../authorization/tenant.rules';
import type { PolicyContext, RateLimitDecision } from '../authorization/policy-context.interface';
import { POLICY_CONTEXT_REQUEST_KEY, PRINCIPAL_REQUEST_KEY } from '../policy.constants';
import { headerValue, type PolicyHttpRequest } from './http-context';

/** What the pipeline learns about a request, kept on the request object. */
export interface RequestPolicyState {
  requestId: string;
  ip: string;
  operation: string | null;
  requiredScopes: readonly string[];
  recordScope?: RecordScope;
  rateLimit?: RateLimitDecision | null;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The request's state, created on first use (request id from a well-formed `X-Request-Id`, else a new UUID). */
export function requestState(req: PolicyHttpRequest, ipOf: (req: PolicyHttpRequest) => string): RequestPolicyState {
  let state = req[POLICY_CONTEXT_REQUEST_KEY] as RequestPolicyState | undefined;
  if (!state) {
    const given = headerValue(req, 'x-request-id');
    state = {
      requestId: given && REQUEST_ID.test(given) ? given : randomUUID(),
      ip: ipOf(req),
      operation: null,
      requiredScopes: [],
    };
    req[POLICY_CONTEXT_REQUEST_KEY] = state;
  }
  return state;
}

export function requestPrincipal(req: PolicyHttpRequest): Principal | undefined {
  return req[PRINCIPAL_REQUEST_KEY] as Principal | undefined;
}

/** The decision context of a request. */
export function policyContextOf(req: PolicyHttpRequest, state: RequestPolicyState, principal: Principal): PolicyContext {
  return {
    principal,
    requiredScopes: state.requiredScopes,
    requestId: state.requestId,
    ip: state.ip,
    method: req.method,
    path: req.url,
    approvalId: headerValue(req, 'x-approval-id'),
    body: req.body,
  };
}

/** The principal of an anonymous caller: tracked by IP, no roles, no scopes. */
export function anonymousPrincipal(ipTracker: string): Principal {
  return Object.freeze({
    id: `ip:${ipTracker}`,
    type: 'anonymous',
    tenantId: null,
    roles: Object.freeze([]),
    scopes: Object.freeze([]),
    tier: null,
    tokenId: null,
    apiKeyId: null,
  } satisfies Principal);
}
