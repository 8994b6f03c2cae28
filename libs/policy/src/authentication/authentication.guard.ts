import { Inject, Injectable, Logger, Optional, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { anonymousPrincipal, PolicyRequest } from '../common/policy-request';
import { POLICY_EVENTS, type PolicyEvents } from '../common/policy-events';
import { headerValue, httpRequest, rawRequest, type PolicyHttpRequest } from '../common/http-context';
import { routePolicy } from '../common/route-metadata';
import { POLICY_MODULE_OPTIONS } from '../policy.constants';
import { InvalidTokenException, UnauthenticatedException } from '../policy.exceptions';
import type { PolicyModuleOptions } from '../policy-module-options.interface';
import { AnomalyAlerts, ipSubject } from '../alerts/anomaly-alerts.service';
import { AuthFailureCounter } from './auth-failure.counter';
import { ApiKeyService } from './api-key.service';
import { clientIp, compileTrustProxy, ipTracker, type TrustFunction } from './client-ip';
import { PolicyJwtStrategy, runStrategy, TOKEN_WINDOWS } from './policy-jwt.strategy';
import { RevocationService } from './revocation.service';
import { VerifiedTokenCache } from './verified-token.cache';
import type { Principal } from './principal.interface';

/** Injection token of the JWT strategy (null when no JWT key is configured). */
export const POLICY_JWT_STRATEGY_TOKEN = Symbol('POLICY:JWT_STRATEGY');

/**
 * The first guard: turns credentials into a principal. `X-API-Key` or `Authorization: Bearer <jwt>`; nothing on a
 * non-public route is 401 `unauthenticated`, bad credentials are 401 `invalid_token` (and an `auth.failure` event, which
 * the failed-attempt counter and the audit log take from the `PolicyEvents` sink). Public routes get an
 * anonymous principal tracked by client IP. Credentials in a body are never read.
 */
@Injectable()
export class AuthenticationGuard implements CanActivate {
  private readonly logger = new Logger('AuthenticationGuard');
  private readonly trust: TrustFunction;
  private readonly tokens: VerifiedTokenCache;
  /** The anonymous principal of each client IP seen lately: frozen, so one serves every request from that IP. */
  private readonly anonymous = new Map<string, Principal>();

  constructor(
    private readonly reflector: Reflector,
    @Inject(POLICY_MODULE_OPTIONS) options: PolicyModuleOptions,
    private readonly apiKeys: ApiKeyService,
    private readonly revocations: RevocationService,
    @Optional() @Inject(POLICY_JWT_STRATEGY_TOKEN) private readonly jwtStrategy: PolicyJwtStrategy | null,
    @Optional() @Inject(AuthFailureCounter) private readonly failures: AuthFailureCounter | null,
    @Optional() @Inject(POLICY_EVENTS) private readonly events: PolicyEvents | null = null,
    @Optional() @Inject(AnomalyAlerts) private readonly alerts: AnomalyAlerts | null = null,
  ) {
    this.trust = compileTrustProxy(options.trustProxy);
    this.tokens = new VerifiedTokenCache(10_000, (options.jwt?.clockTolerance ?? 0) * 1000);
  }

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const req = httpRequest(context);
    const state = PolicyRequest.open(req, (r) => clientIp(rawRequest(r), this.trust));
    if (routePolicy(this.reflector, context).isPublic) {
      state.principal = this.anonymousPrincipal(state.ip);
      return true;
    }
    const apiKey = headerValue(req, 'x-api-key');
    const authorization = headerValue(req, 'authorization');
    if (!apiKey && !authorization) throw new UnauthenticatedException();

    // An IP blocked after an anomaly of failed authentications has its credentials refused before they are checked.
    this.alerts?.refuseIfBlocked(ipSubject(state.ip));
    const attempt = this.failures?.beforeAttempt(state.ip);
    // A JWT verified before, still valid and not revoked: no promise (the common case of a client's next call).
    const known = attempt || apiKey ? undefined : this.knownToken(authorization);
    if (known) {
      state.principal = known;
      return true;
    }
    return this.verify(req, state, apiKey, authorization, attempt);
  }

  /** The anonymous principal of a client IP (tracked by its /64 on IPv6), kept for up to 10,000 IPs at a time. */
  private anonymousPrincipal(ip: string): Principal {
    let principal = this.anonymous.get(ip);
    if (!principal) {
      if (this.anonymous.size >= MAX_ANONYMOUS) this.anonymous.clear();
      principal = anonymousPrincipal(ipTracker(ip));
      this.anonymous.set(ip, principal);
    }
    return principal;
  }

  private async verify(
    req: PolicyHttpRequest,
    state: PolicyRequest,
    apiKey: string | undefined,
    authorization: string | undefined,
    attempt: void | Promise<void>,
  ): Promise<boolean> {
    await attempt;
    const principal = await this.authenticate(req, apiKey, authorization);
    if (!principal) {
      if (this.events) {
        // An attempt on an existing key is the key's tenant's business: its auditors see it.
        const tenantId = apiKey ? await this.apiKeys.tenantOfPresented(apiKey).catch(() => null) : null;
        await this.events.emit({
          type: 'auth.failure',
          ip: state.ip,
          requestId: state.requestId,
          credential: apiKey ? 'api-key' : 'jwt',
          tenantId,
        });
      }
      throw new InvalidTokenException();
    }
    state.principal = principal;
    return true;
  }

  /**
   * The principal of a bearer token this guard verified before, while it is valid and known not to be revoked
   * without reading the revocation table; undefined otherwise (and whenever `authenticate` is overridden).
   */
  private knownToken(authorization: string | undefined): Principal | undefined {
    if (!this.jwtStrategy || !authorization || this.authenticate !== AuthenticationGuard.prototype.authenticate)
      return undefined;
    // Keyed by the header a token comes in as usual (`Bearer <token>`): such a header seen before needs no parsing.
    const cached = this.tokens.get(authorization, Date.now());
    if (!cached) return undefined;
    return cached.tokenId === null || this.revocations.revokedNow(cached.tokenId) === false ? cached : undefined;
  }

  /** Answers the principal of valid credentials, or null. Override to add a credential type. */
  protected async authenticate(
    req: PolicyHttpRequest,
    apiKey: string | undefined,
    authorization: string | undefined,
  ): Promise<Principal | null> {
    if (apiKey) {
      const result = await this.apiKeys.verify(apiKey);
      return typeof result === 'string' ? null : result;
    }
    const token = authorization ? bearerToken(authorization) : null;
    if (!this.jwtStrategy || token === null) return null;
    // One key per token whatever the header's spelling (`bearer`, more spaces): other spellings of one valid token
    // neither take more room in the cache nor push other callers' tokens out of it.
    const key = `Bearer ${token}`;
    const now = Date.now();
    const cached = this.tokens.get(key, now);
    if (cached) {
      return cached.tokenId !== null && (await this.revocations.isRevoked(cached.tokenId)) ? null : cached;
    }
    const principal = (await runStrategy(this.jwtStrategy, req)) as Principal | null;
    const window = principal ? TOKEN_WINDOWS.get(principal) : undefined;
    if (principal && window) this.tokens.set(key, principal, window.expMs, window.nbfMs);
    return principal;
  }
}

const MAX_ANONYMOUS = 10_000;
const BEARER = /^Bearer\s+(\S+)$/i;

/** The token of an `Authorization: Bearer <token>` header, or null. */
function bearerToken(authorization: string): string | null {
  return BEARER.exec(authorization)?.[1] ?? null;
}
