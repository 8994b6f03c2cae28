import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerResponse } from 'node:http2';
import type { AnsweredRequest } from 'nest-agent-policy';
import { httpError } from './json-body';

/** The part of Fastify's request the answer uses: the method Node parsed (never the URL or a header). */
interface FrameworkRequest {
  readonly raw: { readonly method?: string };
}

/** The part of Fastify's reply the answer uses: its Node response (no route, hook or filter runs for these URLs). */
interface FrameworkReply {
  readonly raw: ServerResponse | Http2ServerResponse;
}

/**
 * Longest path parameter Fastify routes (its default is 100 characters). Express has no such limit: with this one,
 * the URL is bounded by Node's header size limit only, as on Express, so a long parameter reaches the route and
 * gets the route's own answer (a long tool name is 403 `forbidden` like any unknown one) on both adapters.
 */
export const FASTIFY_MAX_PARAM_LENGTH = 16 * 1024;

/**
 * Builds Fastify's `frameworkErrors`: answers a URL its router refuses before any route or filter sees it (a malformed
 * percent-encoding, a parameter past {@link FASTIFY_MAX_PARAM_LENGTH}) with the `{ statusCode, code, message }` body
 * every other error has, instead of Fastify's own body (`FST_ERR_*` codes and the URL echoed back). The answer is
 * written on the Node response, so Fastify's `onResponse` hooks do not run for it: `onAnswered` is told its status
 * and method instead (the app's `reportAnsweredRequest`), so it is logged and measured once.
 */
export function frameworkErrorAnswerer(
  onAnswered: (answer: AnsweredRequest) => void,
): (error: Error & { code?: string }, request: FrameworkRequest, reply: FrameworkReply) => void {
  return (error, request, reply) => {
    const answer =
      error.code === 'FST_ERR_MAX_PARAM_LENGTH'
        ? { statusCode: 414, code: 'uri_too_long', message: 'A path parameter is too long' }
        : { statusCode: 400, code: 'validation_failed', message: 'Request validation failed' };
    const body = JSON.stringify(answer);
    const res = reply.raw as ServerResponse;
    res.writeHead(answer.statusCode, {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': Buffer.byteLength(body),
    });
    res.end(body);
    onAnswered({ status: answer.statusCode, method: request.raw.method });
  };
}

/**
 * Express: refuses a path with a malformed percent-encoding (`/%ZZ`) with 400 `validation_failed`, as Fastify's
 * router does, instead of a 404 from routes that cannot match it. Install it before the routes (after the request
 * observers, so the refusal is logged and measured). On the path of every request: only a URL holding a `%` before
 * its query is decoded.
 */
export function refuseMalformedPaths(
  req: IncomingMessage,
  _res: ServerResponse,
  next: (error?: unknown) => void,
): void {
  const url = req.url ?? '';
  const percent = url.indexOf('%');
  if (percent === -1) return next();
  const query = url.search(/[?#]/);
  if (query !== -1 && query < percent) return next();
  try {
    decodeURI(query === -1 ? url : url.slice(0, query));
  } catch {
    return next(httpError(400, 'Malformed percent-encoding in the path'));
  }
  next();
}
