import { PassportStrategy } from '@nestjs/passport';
import { ExtractJwt, Strategy } from 'passport-jwt';
import { InvalidTokenException } from '../policy.exceptions';
import { jwtHeaderProblem, principalFromClaims, type PolicyJwtClaims } from './jwt-claims';
import type { ResolvedJwtOptions } from './jwt-options';
import type { Principal } from './principal.interface';
import type { RevocationService } from './revocation.service';

/** The passport strategy name; usable with `AuthGuard('policy-jwt')` as well. */
export const POLICY_JWT_STRATEGY = 'policy-jwt';

/**
 * The passport-jwt strategy: bearer token, pinned algorithms, `exp` required, `nbf` always checked, `iss`/`aud`
 * checked when configured, revoked `jti` refused, a `crit` header refused, claims checked by {@link principalFromClaims}
 * (types, `iat` not in the future, lifetime at most `jwt.maxLifetime`). `validate` answers the principal.
 */
export class PolicyJwtStrategy extends PassportStrategy(Strategy, POLICY_JWT_STRATEGY) {
  constructor(
    options: ResolvedJwtOptions,
    private readonly revocations: RevocationService,
  ) {
    super({
      jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
      // passport-jwt hands the key to jsonwebtoken as is; a KeyObject is accepted there.
      secretOrKey: options.key as unknown as string,
      algorithms: options.algorithms,
      issuer: options.issuer,
      audience: options.audience,
      ignoreExpiration: false,
      // `complete` hands validate the header too, for the `crit` check.
      jsonWebTokenOptions: { clockTolerance: options.clockTolerance, complete: true },
    });
    this.limits = { maxLifetime: options.maxLifetime, iatLeeway: options.iatLeeway };
  }

  private readonly limits: { maxLifetime: number; iatLeeway: number };

  async validate(token: {
    header?: Record<string, unknown>;
    payload?: PolicyJwtClaims & { nbf?: unknown };
  }): Promise<Principal> {
    const payload = token?.payload;
    if (!payload || typeof payload !== 'object' || jwtHeaderProblem(token.header) !== null)
      throw new InvalidTokenException();
    const principal = principalFromClaims(payload, { nowMs: Date.now(), ...this.limits });
    if (typeof principal === 'string') throw new InvalidTokenException();
    if (principal.tokenId !== null && (await this.revocations.isRevoked(principal.tokenId))) {
      throw new InvalidTokenException();
    }
    TOKEN_WINDOWS.set(principal, {
      expMs: (payload.exp as number) * 1000,
      nbfMs: typeof payload.nbf === 'number' ? payload.nbf * 1000 : 0,
    });
    return principal;
  }
}

/** When each principal built from a token stops (exp) and starts (nbf) being valid, for the verified-token cache. */
export const TOKEN_WINDOWS = new WeakMap<Principal, { expMs: number; nbfMs: number }>();

interface StrategyRun {
  success(user: unknown): void;
  fail(challenge?: unknown, status?: number): void;
  error(err: unknown): void;
  authenticate(req: unknown, options?: unknown): void;
}

/**
 * Runs a passport strategy against one request without passport's middleware (the way passport itself does it:
 * a per-request object inheriting from the strategy), and answers the authenticated user or null.
 * @throws the strategy's error (e.g. the revocation list could not be read), so the caller denies.
 */
export function runStrategy(strategy: object, req: unknown): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const run = Object.create(strategy) as StrategyRun;
    run.success = (user) => resolve(user);
    run.fail = () => resolve(null);
    run.error = (err) => (err instanceof InvalidTokenException ? resolve(null) : reject(err));
    try {
      run.authenticate(req, {});
    } catch (err) {
      reject(err);
    }
  });
}
