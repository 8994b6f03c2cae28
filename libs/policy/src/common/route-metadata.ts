import type { ExecutionContext } from '@nestjs/common';
import type { Reflector } from '@nestjs/core';

type Target = object;
const cache = new WeakMap<Target, WeakMap<Target, Map<string, unknown>>>();

/**
 * `reflector.getAllAndOverride(key, [handler, class])` read once per route and remembered: route decorators are
 * applied when the classes are defined, so what they say never changes while the app runs, and the guards read
 * several keys on every request.
 */
export function routeMetadata<T>(reflector: Reflector, key: string, context: ExecutionContext): T | undefined {
  const handler = context.getHandler();
  const type = context.getClass();
  let handlers = cache.get(type);
  if (!handlers) {
    handlers = new WeakMap();
    cache.set(type, handlers);
  }
  let values = handlers.get(handler);
  if (!values) {
    values = new Map();
    handlers.set(handler, values);
  }
  if (values.has(key)) return values.get(key) as T | undefined;
  const value = reflector.getAllAndOverride<T | undefined>(key, [handler, type]);
  values.set(key, value);
  return value;
}
