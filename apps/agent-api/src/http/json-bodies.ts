import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { MAX_BODY_DEPTH, drainRequest, hasBody, httpError, isJsonContentType, valueNestsDeeperThan } from './json-body';

/*
 * The app takes JSON bodies only, parsed the same way on both adapters: a body of another type is 415
 * `unsupported_media_type`; bad JSON, or JSON nested deeper than MAX_BODY_DEPTH (checked without recursion, before any
 * guard, interceptor or pipe sees the body), is 400 `validation_failed`; past the size limit, 413
 * `payload_too_large`. Each answer is sent once the client has finished sending, so it can be read.
 */

const tooDeep = () => httpError(400, `The JSON body is nested more than ${MAX_BODY_DEPTH} levels deep`);
const unsupported = () => httpError(415, 'Only application/json bodies are accepted');

/** Express: refuses non-JSON bodies, then parses JSON with body-parser (limit), then checks its depth. */
export function useExpressJsonBodies(app: NestExpressApplication, limit: number): void {
  app.use((req: IncomingMessage, _res: ServerResponse, next: (error?: unknown) => void) => {
    if (!hasBody(req) || isJsonContentType(req.headers['content-type'])) return next();
    void drainRequest(req).then(() => next(unsupported()));
  });
  app.useBodyParser('json', { limit });
  // JSON.parse does not recurse, so the parsed body is measured (without recursing) before anything else sees it.
  app.use((req: IncomingMessage & { body?: unknown }, _res: ServerResponse, next: (error?: unknown) => void) => {
    next(valueNestsDeeperThan(req.body) ? tooDeep() : undefined);
  });
}

/** Fastify: one JSON parser (Fastify's own, with its prototype-poisoning checks, then the depth check), no other. */
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
  // Fastify answers a refused body at once and closes the connection: read the rest first, as Express does.
  fastify.addHook('onError', async (request) => {
    if (hasBody(request.raw)) await drainRequest(request.raw);
  });
}
