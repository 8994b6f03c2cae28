import type { ServerResponse } from 'node:http';
import type { Http2ServerResponse } from 'node:http2';

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
 * Fastify's `frameworkErrors`: answers a URL its router refuses before any route or filter sees it (a malformed
 * percent-encoding, a parameter past {@link FASTIFY_MAX_PARAM_LENGTH}) with the `{ statusCode, code, message }` body
 * every other error has, instead of Fastify's own body (`FST_ERR_*` codes and the URL echoed back).
 */
export function answerFrameworkError(error: Error & { code?: string }, _request: unknown, reply: FrameworkReply): void {
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
}
