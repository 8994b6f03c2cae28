import { HttpException, Inject, Injectable, Logger, Optional, type ExecutionContext } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import {
  InjectThrottlerOptions,
  InjectThrottlerStorage,
  ThrottlerGuard,
  type ThrottlerModuleOptions,
  type ThrottlerRequest,
  type ThrottlerStorage,
} from '@nestjs/throttler';
import { AuthorizationPolicy } from '../authorization/authorization-policy';
import type { CompiledPolicy } from '../authorization/compiled-policy';
import type { PolicyContext, RateLimitDecision } from '../authorization/policy-context.interface';
import { httpRequest, httpResponse, setHeader } from '../common/http-context';
import { POLICY_EVENTS, type PolicyEvents } from '../common/policy-events';
import { PolicyRequest } from '../common/policy-request';
import { PerRoute, routePolicy } from '../common/route-metadata';
import { COMPILED_POLICY } from '../policy.constants';
import { PolicyUnavailableException, RateLimitedException, UnauthenticatedException } from '../policy.exceptions';
import { writeRateLimitHeaders } from './rate-limit.service';

/** The one throttler of the library; its buckets come from `rateLimits` in the policy document. */
export const POLICY_THROTTLER_NAME = 'default';
/** The `default` throttler's limit and ttl when a route has no `@Throttle()`: the principal's buckets apply. */
const UNSET = -1;

/** The `ThrottlerModuleOptions` the library's guard is built with (no route limit unless `@Throttle()` gives one). */
export const POLICY_THROTTLER_OPTIONS: ThrottlerModuleOptions = {
  throttlers: [{ name: POLICY_THROTTLER_NAME, limit: UNSET, ttl: UNSET, blockDuration: UNSET }],
};

const PREFIX = 'THROTTLER:';
const LIMIT = 'THROTTLER:LIMIT';
const TTL = 'THROTTLER:TTL';
const SKIP = 'THROTTLER:SKIP';
const UNSUPPORTED = ['THROTTLER:TRACKER', 'THROTTLER:KEY_GENERATOR'];

type Target = object;
/** How a route meets the guard: the policy's buckets only, skipped (`@SkipThrottle()`), or through `@Throttle()`. */
type RouteMode = 'policy' | 'skipped' | 'decorated';

/**
 * The rate-limit guard: `@nestjs/throttler`'s `ThrottlerGuard`, through its hooks, with the limits of
 * `AuthorizationPolicy.checkRateLimit` counted in the library's storage (`getStorageToken()`). `@SkipThrottle()`
 * skips it; `@Throttle({ default: { limit, ttl, blockDuration? } })` replaces the principal's default bucket on that
 * route, and each of them may be a function of the `ExecutionContext`, resolved per request. A `@Throttle()` naming
 * another throttler, or giving only one of `limit`/`ttl`, or a `getTracker`/`generateKey`, fails the boot, naming the
 * route. Sets `X-RateLimit-*` on every limited response and `Retry-After` on 429; a limiter error that is not an HTTP
 * error answers 503 (fail closed). The stock guard's per-hit key hashing and headers are not used: the library's
 * buckets have their own keys.
 *
 * It counts before the authorization guard decides, so a request is charged whatever its authorization outcome: a
 * caller's denied attempts (403, approval required) spend the same buckets as its granted ones, and once they are
 * spent the caller gets 429 without the permission check (nor an approval request) running at all.
 */
@Injectable()
export class PolicyThrottlerGuard extends ThrottlerGuard {
  private readonly policyLogger = new Logger('PolicyThrottlerGuard');
  /** Each route's {@link RouteMode} (controller × handler), read once from its metadata. */
  private readonly routes = new PerRoute<RouteMode>();

  constructor(
    @InjectThrottlerOptions() options: ThrottlerModuleOptions,
    @InjectThrottlerStorage() storage: ThrottlerStorage,
    reflector: Reflector,
    private readonly policy: AuthorizationPolicy,
    @Optional() @Inject(POLICY_EVENTS) private readonly events: PolicyEvents | null = null,
    @Optional() @Inject(COMPILED_POLICY) private readonly compiled: CompiledPolicy | null = null,
    @Optional() @Inject(DiscoveryService) private readonly discovery: DiscoveryService | null = null,
    @Optional() @Inject(MetadataScanner) private readonly scanner: MetadataScanner | null = null,
  ) {
    super(options, storage, reflector);
  }

  /** @throws Error naming the route when a `@Throttle()` would be ignored. */
  override async onModuleInit(): Promise<void> {
    await super.onModuleInit();
    if (this.discovery && this.scanner) this.checkRoutes(this.discovery, this.scanner);
  }

  override canActivate(context: ExecutionContext): Promise<boolean> {
    try {
      const outcome = this.activate(context);
      return typeof outcome === 'boolean' ? Promise.resolve(outcome) : outcome;
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /**
   * {@link canActivate}, answering without a promise when the limiter counts at once (the memory storage) and the
   * call is allowed. `PolicyGuard` calls it; a subclass that overrides `canActivate` or `handleRequest` is called
   * through them instead.
   */
  activate(context: ExecutionContext): boolean | Promise<boolean> {
    const mode = this.routeMode(context);
    // Nearly every route has no throttler decorator: it goes to the policy's buckets without the per-throttler lookups.
    if (mode === 'policy') {
      const request: ThrottlerRequest = {
        context,
        limit: UNSET,
        ttl: UNSET,
        blockDuration: UNSET,
        throttler: this.throttlers[0],
        getTracker: this.commonOptions.getTracker!,
        generateKey: this.commonOptions.generateKey!,
      };
      return this.handleRequest === PolicyThrottlerGuard.prototype.handleRequest
        ? this.check(request)
        : this.handleRequest(request);
    }
    // `@SkipThrottle()` on the library's one throttler: what the base guard would answer, without its lookups.
    if (mode === 'skipped') return true;
    return super.canActivate(context);
  }

  /** One throttler's check, with `limit`/`ttl`/`blockDuration` resolved by the base guard (functions included). */
  protected override async handleRequest(request: ThrottlerRequest): Promise<boolean> {
    return this.check(request);
  }

  private check({ context, limit, ttl, blockDuration }: ThrottlerRequest): boolean | Promise<boolean> {
    const req = httpRequest(context);
    const state = PolicyRequest.of(req);
    const route = routePolicy(this.reflector, context);
    const base = state?.context(route);
    if (!base) throw new UnauthenticatedException();
    const ctx: PolicyContext =
      limit >= 0 && ttl >= 0
        ? { ...base, routeLimit: { limit, ttlMs: ttl, blockDurationMs: blockDuration >= 0 ? blockDuration : 0 } }
        : base;
    // Authorization has not run yet: the route's own metadata names the operation (none on a public route).
    const operation = route.isPublic ? null : (route.operation ?? null);
    let decision: RateLimitDecision | null | undefined;
    try {
      decision = this.policy.checkRateLimitNow(ctx, operation);
    } catch (err) {
      this.limiterFailed(err);
    }
    if (decision === undefined) return this.checkLater(context, ctx, operation);
    return this.apply(context, ctx, operation, decision);
  }

  private async checkLater(context: ExecutionContext, ctx: PolicyContext, operation: string | null): Promise<boolean> {
    let decision: RateLimitDecision | null;
    try {
      decision = await this.policy.checkRateLimit(ctx, operation);
    } catch (err) {
      this.limiterFailed(err);
    }
    return this.apply(context, ctx, operation, decision);
  }

  /** A limiter error that is not an HTTP error denies with 503 (fail closed). */
  private limiterFailed(err: unknown): never {
    if (err instanceof HttpException) throw err;
    this.policyLogger.error(`Rate limit check failed; denying: ${(err as Error).message}`);
    throw new PolicyUnavailableException();
  }

  /** Sets the headers of the decision; an allowed call passes at once, a refused one after its event is emitted. */
  private apply(
    context: ExecutionContext,
    ctx: PolicyContext,
    operation: string | null,
    decision: RateLimitDecision | null,
  ): boolean | Promise<boolean> {
    if (!decision) return true;
    const res = httpResponse(context);
    const config = this.compiled?.document.rateLimits;
    // In shadow mode a refusal is audited (SHADOW_DENY) and the request passes, with the headers of an allowed one.
    const shadow = !decision.allowed && config?.mode === 'shadow';
    const shown = shadow ? { ...decision, allowed: true, retryAfterSeconds: 0 } : decision;
    // A Fastify reply (it has `raw`) lower-cases each name it is given: it is given lower-case names.
    writeRateLimitHeaders(shown, config?.headers, (name, value) => setHeader(res, name, value), 'raw' in res);
    if (decision.allowed) return true;
    return this.refuse(ctx, operation, decision, shadow);
  }

  private async refuse(
    ctx: PolicyContext,
    operation: string | null,
    decision: RateLimitDecision,
    shadow: boolean,
  ): Promise<boolean> {
    await this.events?.emit({ type: 'rate_limit.exceeded', ctx, operation, decision, shadow });
    if (!shadow) throw new RateLimitedException(decision.retryAfterSeconds);
    return true;
  }

  private routeMode(context: ExecutionContext): RouteMode {
    return this.routes.get(context, () => {
      const handler = context.getHandler();
      const classRef = context.getClass();
      const decorated = [handler, classRef].some((target) =>
        Reflect.getMetadataKeys(target).some((key) => typeof key === 'string' && key.startsWith(PREFIX)),
      );
      // A skip is static metadata (`@SkipThrottle()`, or `{ default: false }` on a method of a skipped class).
      const skipped =
        decorated &&
        this.reflector.getAllAndOverride<unknown>(SKIP + POLICY_THROTTLER_NAME, [handler, classRef]) === true &&
        !this.commonOptions.skipIf;
      return skipped ? 'skipped' : decorated ? 'decorated' : 'policy';
    });
  }

  private checkRoutes(discovery: DiscoveryService, scanner: MetadataScanner): void {
    for (const wrapper of discovery.getControllers()) {
      const type = wrapper.metatype as (Target & { name: string; prototype: Record<string, unknown> }) | undefined;
      if (!type?.prototype) continue;
      const check = (target: Target, where: string) => {
        const keys = Reflect.getOwnMetadataKeys(target).filter(
          (key): key is string => typeof key === 'string' && key.startsWith(PREFIX),
        );
        for (const key of keys) {
          const value: unknown = Reflect.getOwnMetadata(key, target);
          if (value === undefined || key.startsWith(SKIP)) continue;
          const name = key.startsWith(LIMIT)
            ? key.slice(LIMIT.length)
            : key.startsWith(TTL)
              ? key.slice(TTL.length)
              : null;
          if (name !== null && name !== POLICY_THROTTLER_NAME) {
            throw new Error(
              `@Throttle() on ${where} names the throttler "${name}"; nest-agent-policy has one throttler, "${POLICY_THROTTLER_NAME}" ` +
                '(the other buckets come from rateLimits in the policy document): use @Throttle({ default: { limit, ttl } })',
            );
          }
          if (UNSUPPORTED.some((prefix) => key.startsWith(prefix))) {
            throw new Error(
              `@Throttle() on ${where}: getTracker and generateKey are not supported (calls are counted per principal)`,
            );
          }
        }
        const limit: unknown = Reflect.getOwnMetadata(LIMIT + POLICY_THROTTLER_NAME, target);
        const ttl: unknown = Reflect.getOwnMetadata(TTL + POLICY_THROTTLER_NAME, target);
        if ((limit === undefined) !== (ttl === undefined)) {
          throw new Error(
            `@Throttle() on ${where} needs both "limit" and "ttl" for the "${POLICY_THROTTLER_NAME}" throttler`,
          );
        }
        for (const [option, given] of [
          ['limit', limit],
          ['ttl', ttl],
        ] as const) {
          if (
            given !== undefined &&
            typeof given !== 'function' &&
            !(typeof given === 'number' && Number.isFinite(given) && given >= 0)
          ) {
            throw new Error(
              `@Throttle() on ${where}: "${option}" must be a non-negative number or a function, got ${JSON.stringify(given)}`,
            );
          }
        }
      };
      check(type, type.name);
      for (const method of scanner.getAllMethodNames(type.prototype)) {
        const handler = type.prototype[method];
        if (typeof handler === 'function') check(handler, `${type.name}.${method}`);
      }
    }
  }
}
