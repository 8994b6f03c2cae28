import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply, FastifyRequest, RequestPayload } from 'fastify';
import {
  MAX_BODY_DEPTH,
  drainRequest,
  hasBody,
  hasUtf8Charset,
  httpError,
  isJsonContentType,
  valueNestsDeeperThan,
} from './json-body';

/*
 * The app takes UTF-8 JSON bodies only, parsed the same way on both adapters: a body of another type, or JSON in
 * another charset (`charset=utf-16`), is 415 `unsupported_media_type` at any size; bad JSON, or JSON nested deeper
 * than MAX_BODY_DEPTH (checked without recursion, before any guard, interceptor or pipe sees the body), is 400
 * `validation_failed`; past the size limit, 413 `payload_too_large`. Each answer is sent once the client has finished
 * sending, so it can be read.
 */

const tooDeep = () => httpError(400, `The JSON body is nested more than ${MAX_BODY_DEPTH} levels deep`);
const unsupported = () => httpError(415, 'Only application/json bodies are accepted');

/** Express: refuses non-JSON and non-UTF-8 bodies, then parses JSON with body-parser (limit), then checks its depth. */
export function useExpressJsonBodies(app: NestExpressApplication, limit: number): void {
  app.use((req: IncomingMessage, _res: ServerResponse, next: (error?: unknown) => void) => {
    const type = req.headers['content-type'];
    if (!hasBody(req) || (isJsonContentType(type) && hasUtf8Charset(type))) return next();
    void drainRequest(req).then(() => next(unsupported()));
  });
  app.useBodyParser('json', { limit });
  // JSON.parse does not recurse, so the parsed body is measured (without recursing) before anything else sees it.
  app.use((req: IncomingMessage & { body?: unknown }, _res: ServerResponse, next: (error?: unknown) => void) => {
    next(valueNestsDeeperThan(req.body) ? tooDeep() : undefined);
  });
}

/**
 * Fastify: one JSON parser (Fastify's own, with its prototype-poisoning checks, then the depth check), no other; a body
 * in another charset than UTF-8 is refused before it is read.
 */
export function useFastifyJsonBodies(app: NestFastifyApplication, limit: number): void {
  const fastify = app.getHttpAdapter().getInstance();
  fastify.removeAllContentTypeParsers();
  const parseJson = fastify.getDefaultJsonParser('error', 'error');
  fastify.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: limit }, (req, body, done) => {
    // No body at all, only the header: as on Express (body-parser skips a request without a body), there is none.
    if (body === '') return done(null, undefined);
    // Fastify's default JSON parser is the callback form: it answers through the callback and returns nothing.
    void parseJson(req, body as string, (error: Error | null, value?: unknown) => {
      if (error) return done(error, undefined);
      // JSON.parse does not recurse, so the parsed body is measured (without recursing) before anything else sees it.
      return valueNestsDeeperThan(value) ? done(tooDeep(), undefined) : done(null, value);
    });
  });
  // The parser reads any charset as UTF-8: another charset is refused before the body is read (so at any size, as on
  // Express). A callback hook, on the routes of methods whose bodies Fastify parses only: GET and HEAD pay nothing.
  const refuseOtherCharsets = (
    request: FastifyRequest,
    _reply: FastifyReply,
    payload: RequestPayload,
    done: (error: Error | null, payload?: RequestPayload) => void,
  ): void => {
    const type = request.headers['content-type'];
    if (type !== undefined && hasBody(request.raw) && !hasUtf8Charset(type)) return done(unsupported(), payload);
    done(null, payload);
  };
  fastify.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (methods.every((method) => method === 'GET' || method === 'HEAD')) return;
    const own = route.preParsing;
    route.preParsing =
      own === undefined ? [refuseOtherCharsets] : [refuseOtherCharsets, ...(Array.isArray(own) ? own : [own])];
  });
  // Fastify answers a refused body at once and closes the connection: read the rest first, as Express does.
  fastify.addHook('onError', async (request) => {
    if (hasBody(request.raw)) await drainRequest(request.raw);
  });
}
