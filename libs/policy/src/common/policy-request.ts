import { randomUUID } from 'node:crypto';
import type { Principal } from '../authentication/principal.interface';
import type { PolicyContext } from '../authorization/policy-context.interface';
import type { RecordScope } from '../authorization/tenant.rules';
import { POLICY_CONTEXT_REQUEST_KEY, PRINCIPAL_REQUEST_KEY } from '../policy.constants';
import { headerValue, type PolicyHttpRequest } from './http-context';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The route facts a decision needs, read from its decorators by the guard that first builds the context. */
export interface RoutePolicyFacts {
  /** `Class.method` of the route. */
  readonly name: string;
  /** Scopes the route requires (`@RequireScopes`). */
  readonly requiredScopes: readonly string[];
}

/**
 * What the guards learn about one HTTP request, typed and in one place: created by the authentication guard (request
 * id, client IP, principal), completed by the authorization guard (operation, record scope), read by the budget
 * interceptor, the decorators and the request log through {@link PolicyRequest.of}. The decision context is built
 * once per request and shared by the rate-limit and authorization guards.
 */
export class PolicyRequest {
  /** The operation the authorization guard decided (`@RequireOperation`); null before, and on public routes. */
  operation: string | null = null;
  /** The records the call may reach, set once the call is allowed. */
  recordScope?: RecordScope;
  /**
   * The approval the authorization guard spent to allow the call: given back when the call is refused before it
   * runs (a budget refusal), so that only a call that runs spends it.
   */
  spentApprovalId?: string;
  private decisionContext?: PolicyContext;
  /** The route the decision context was built for. */
  private decisionRoute?: RoutePolicyFacts;

  private constructor(
    private readonly req: PolicyHttpRequest,
    /** A well-formed `X-Request-Id`, else a new UUID. */
    readonly requestId: string,
    readonly ip: string,
  ) {}

  /** The state of a request the guards have seen; undefined before the authentication guard ran or outside HTTP. */
  static of(req: object): PolicyRequest | undefined {
    return (req as Record<string, unknown>)[POLICY_CONTEXT_REQUEST_KEY] as PolicyRequest | undefined;
  }

  /** The request's state, created on first use (the authentication guard opens it). */
  static open(req: PolicyHttpRequest, ipOf: (req: PolicyHttpRequest) => string): PolicyRequest {
    const existing = PolicyRequest.of(req);
    if (existing) return existing;
    const given = headerValue(req, 'x-request-id');
    const state = new PolicyRequest(req, given && REQUEST_ID.test(given) ? given : randomUUID(), ipOf(req));
    req[POLICY_CONTEXT_REQUEST_KEY] = state;
    return state;
  }

  /** The authenticated principal (anonymous on public routes), also at `req.principal`. */
  get principal(): Principal | undefined {
    return this.req[PRINCIPAL_REQUEST_KEY] as Principal | undefined;
  }

  set principal(principal: Principal | undefined) {
    this.req[PRINCIPAL_REQUEST_KEY] = principal;
  }

  /** The `X-Approval-Id` the caller presents. */
  get approvalId(): string | undefined {
    return headerValue(this.req, 'x-approval-id');
  }

  /** The decision context of the request, built by the first guard that asks and shared by the next ones. */
  context(route: RoutePolicyFacts): PolicyContext | undefined {
    // One request can pass the guards of two routes (an Express handler calling `next()`): each gets its own context.
    if (this.decisionContext && this.decisionRoute === route) return this.decisionContext;
    const principal = this.principal;
    if (!principal) return undefined;
    this.decisionContext = {
      principal,
      requiredScopes: route.requiredScopes,
      requestId: this.requestId,
      ip: this.ip,
      method: this.req.method,
      path: this.req.url,
      approvalId: this.approvalId,
      body: this.req.body,
      route: route.name,
    };
    this.decisionRoute = route;
    return this.decisionContext;
  }
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
