import type { ExecutionContext } from '@nestjs/common';
import type { Reflector } from '@nestjs/core';
import { IS_PUBLIC_KEY, REQUIRE_OPERATION_KEY, REQUIRE_SCOPES_KEY } from '../policy.constants';

type Target = object;

/** A value computed once per route (controller class × handler: a handler inherited by two controllers is two routes). */
export class PerRoute<T> {
  private readonly cache = new WeakMap<Target, WeakMap<Target, T>>();

  get(context: ExecutionContext, compute: () => T): T {
    const handler = context.getHandler();
    const type = context.getClass();
    let handlers = this.cache.get(type);
    if (!handlers) {
      handlers = new WeakMap();
      this.cache.set(type, handlers);
    }
    let value = handlers.get(handler);
    if (value === undefined) {
      value = compute();
      handlers.set(handler, value);
    }
    return value;
  }
}

const metadata = new PerRoute<Map<string, unknown>>();

/**
 * `reflector.getAllAndOverride(key, [handler, class])` read once per route and remembered: route decorators are
 * applied when the classes are defined, so what they say never changes while the app runs, and the guards read
 * several keys on every request.
 */
export function routeMetadata<T>(reflector: Reflector, key: string, context: ExecutionContext): T | undefined {
  const values = metadata.get(context, () => new Map());
  if (values.has(key)) return values.get(key) as T | undefined;
  const value = reflector.getAllAndOverride<T | undefined>(key, [context.getHandler(), context.getClass()]);
  values.set(key, value);
  return value;
}

/** What the guards read of a route's decorators: `@Public()`, `@RequireOperation()`, `@RequireScopes()`. */
export interface RoutePolicy {
  /** `Class.method` of the route. */
  readonly name: string;
  /** `@Public()`: an anonymous caller may call it. */
  readonly isPublic: boolean;
  /** The operation of `@RequireOperation()`, or undefined when the route names none. */
  readonly operation: string | undefined;
  /** Scopes the route requires (`@RequireScopes`). */
  readonly requiredScopes: readonly string[];
}

const policies = new PerRoute<RoutePolicy>();

/**
 * The route's policy decorators, read once per route into one frozen object: each guard takes its route's with one
 * lookup instead of looking each key up again.
 */
export function routePolicy(reflector: Reflector, context: ExecutionContext): RoutePolicy {
  return policies.get(context, () =>
    Object.freeze({
      name: `${context.getClass().name}.${context.getHandler().name}`,
      isPublic: Boolean(routeMetadata<boolean>(reflector, IS_PUBLIC_KEY, context)),
      operation: routeMetadata<string>(reflector, REQUIRE_OPERATION_KEY, context) || undefined,
      requiredScopes: routeMetadata<string[]>(reflector, REQUIRE_SCOPES_KEY, context) ?? [],
    }),
  );
}
