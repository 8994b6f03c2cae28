import type { ExecutionContext } from '@nestjs/common';

/** The parts of an Express or Fastify request the library reads. */
export interface PolicyHttpRequest {
  headers: Record<string, string | string[] | undefined>;
  method: string;
  url: string;
  body?: unknown;
  raw?: PolicyHttpRequest;
  socket?: { remoteAddress?: string };
  [key: string]: unknown;
}

/** The parts of an Express response or Fastify reply the library writes. */
export interface PolicyHttpResponse {
  header?: (name: string, value: string) => unknown;
  setHeader?: (name: string, value: string) => unknown;
}

/**
 * The request of an HTTP execution context. Nest's `switchToHttp()` assigns three new closures to the context on
 * every call; the request is the context's first argument, so a context that has one is read directly.
 */
export function httpRequest(context: ExecutionContext): PolicyHttpRequest {
  return httpArgument(context, 0) ?? context.switchToHttp().getRequest<PolicyHttpRequest>();
}

/** The response (Express) or reply (Fastify) of an HTTP execution context: its second argument (see {@link httpRequest}). */
export function httpResponse<T = PolicyHttpResponse>(context: ExecutionContext): T {
  return httpArgument<T>(context, 1) ?? context.switchToHttp().getResponse<T>();
}

/** Argument `index` of an HTTP context that has arguments to read; undefined otherwise. */
function httpArgument<T>(context: ExecutionContext, index: number): T | undefined {
  return typeof context.getArgByIndex === 'function' && context.getType() === 'http'
    ? context.getArgByIndex<T | undefined>(index)
    : undefined;
}

/** Sets a header on an Express response or a Fastify reply. */
export function setHeader(res: PolicyHttpResponse, name: string, value: string): void {
  if (typeof res.setHeader === 'function' && !('raw' in res)) res.setHeader(name, value);
  else if (typeof res.header === 'function') res.header(name, value);
}

/** The first value of a header. */
export function headerValue(req: PolicyHttpRequest, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The raw Node request (Fastify wraps it, Express is it). */
export function rawRequest(req: PolicyHttpRequest): PolicyHttpRequest {
  return req.raw ?? req;
}
