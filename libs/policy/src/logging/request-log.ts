import { randomUUID } from 'node:crypto';
import type { Principal } from '../authentication/principal.interface';
import { PolicyRequest } from '../common/policy-request';
import { PRINCIPAL_REQUEST_KEY } from '../policy.constants';

/** One request, as its log line shows it. Never a header, a query string or a body. */
export interface RequestLogLine {
  requestId: string;
  principalId: string | null;
  tenantId: string | null;
  operation: string | null;
  /** Null for a request answered before its method was known (refused by Node's HTTP parser). */
  method: string | null;
  /** The matched route's template (`/customers/:id`), null when none matched: never the path, whose segments and query may carry personal data (`?email=`). */
  route: string | null;
  status: number;
  latencyMs: number;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The log fields of a finished request, from what the policy pipeline learnt about it (request id, principal,
 * operation). A request the pipeline never saw (an unknown route) gets the caller's well-formed `X-Request-Id`, or a
 * new one. Pure apart from that id.
 */
export function requestLogLine(
  req: { method?: string; headers?: Record<string, string | string[] | undefined>; [key: string]: unknown },
  route: string | null,
  status: number,
  latencyMs: number,
): RequestLogLine {
  const state = PolicyRequest.of(req);
  const principal = req[PRINCIPAL_REQUEST_KEY] as Principal | undefined;
  const given = req.headers?.['x-request-id'];
  const header = typeof given === 'string' && REQUEST_ID.test(given) ? given : undefined;
  return {
    requestId: state?.requestId ?? header ?? randomUUID(),
    principalId: principal?.id ?? null,
    tenantId: principal?.tenantId ?? null,
    operation: state?.operation ?? null,
    method: req.method ?? null,
    route,
    status,
    latencyMs: Math.round(latencyMs * 1000) / 1000,
  };
}
