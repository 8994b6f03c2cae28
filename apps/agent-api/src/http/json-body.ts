import type { IncomingMessage } from 'node:http';

/** Deepest nesting of objects and arrays a JSON body may have; checked right after parsing, before any guard. */
export const MAX_BODY_DEPTH = 32;

/** Whether a parsed value nests objects/arrays deeper than `max`; iterative, so any depth is safe to measure. */
export function valueNestsDeeperThan(value: unknown, max: number = MAX_BODY_DEPTH): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length) {
    const [current, depth] = stack.pop()!;
    if (current === null || typeof current !== 'object') continue;
    if (depth + 1 > max) return true;
    for (const item of Array.isArray(current) ? current : Object.values(current)) stack.push([item, depth + 1]);
  }
  return false;
}

/** Whether a `Content-Type` header names JSON (`application/json`, any parameters). */
export function isJsonContentType(header: string | undefined): boolean {
  if (!header) return false;
  const essence = header.split(';', 1)[0].trim().toLowerCase();
  return essence === 'application/json';
}

/**
 * Whether a `Content-Type` header's charset, if it names one, is UTF-8: the only one both adapters' parsers decode
 * (Express's body-parser decodes UTF-16 and refuses other charsets; Fastify reads any body as UTF-8), so any other
 * is refused alike (415) rather than parsed differently.
 */
export function hasUtf8Charset(header: string | undefined): boolean {
  if (!header || header.indexOf(';') === -1) return true;
  for (const parameter of header.split(';').slice(1)) {
    const equals = parameter.indexOf('=');
    if (equals === -1 || parameter.slice(0, equals).trim().toLowerCase() !== 'charset') continue;
    const value = parameter
      .slice(equals + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1')
      .toLowerCase();
    if (value !== 'utf-8') return false;
  }
  return true;
}

/** Whether a request carries a body (RFC 9112: a Transfer-Encoding, or a Content-Length other than 0). */
export function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/**
 * Reads and discards what is left of a request body (at most `maxBytes`, for at most `timeoutMs`), so that an
 * early error answer (413, 415, 400) reaches a client still sending: a server that answers and closes while a
 * body is unread resets the connection, and a client such as Node's fetch then sees an error, not the answer.
 */
export function drainRequest(req: IncomingMessage, maxBytes = 64 * 1024 * 1024, timeoutMs = 10_000): Promise<void> {
  if (req.readableEnded || req.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    let seen = 0;
    const finish = () => {
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', finish);
      req.off('error', finish);
      req.off('close', finish);
      resolve();
    };
    const onData = (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > maxBytes) finish();
    };
    const timer = setTimeout(finish, timeoutMs);
    req.on('data', onData);
    req.once('end', finish);
    req.once('error', finish);
    req.once('close', finish);
    req.resume();
  });
}

/** An error a body parser answers with, carrying its HTTP status. */
export function httpError(
  status: number,
  message: string,
): Error & { status: number; statusCode: number; expose: boolean } {
  return Object.assign(new Error(message), { status, statusCode: status, expose: true });
}
