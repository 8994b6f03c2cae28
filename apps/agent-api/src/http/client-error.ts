import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';

const ANSWERS: Record<string, { status: number; code: string; message: string }> = {
  HPE_HEADER_OVERFLOW: { status: 431, code: 'headers_too_large', message: 'Request headers are too large' },
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, code: 'request_timeout', message: 'The request took too long to arrive' },
};
const BAD_REQUEST = { status: 400, code: 'validation_failed', message: 'Malformed HTTP request' };

/**
 * Answers a request Node's HTTP parser refused before any framework saw it (oversized headers, a malformed request
 * line, a request that timed out) with the `{ statusCode, code, message }` body every other error has, instead of
 * Node's empty answer. The same handler serves Express (a `clientError` listener) and Fastify (its
 * `clientErrorHandler` option). Nothing of the request is echoed.
 */
export function answerClientError(error: Error & { code?: string }, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const answer = ANSWERS[error.code ?? ''] ?? BAD_REQUEST;
  const body = JSON.stringify({ statusCode: answer.status, code: answer.code, message: answer.message });
  socket.end(
    `HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status]}\r\n` +
      'Content-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      'Connection: close\r\n\r\n' +
      body,
  );
}
