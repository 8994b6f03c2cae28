import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AnsweredRequest } from 'nest-agent-policy';

const ANSWERS: Record<string, { status: number; code: string; message: string }> = {
  HPE_HEADER_OVERFLOW: { status: 431, code: 'headers_too_large', message: 'Request headers are too large' },
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, code: 'request_timeout', message: 'The request took too long to arrive' },
};
const BAD_REQUEST = { status: 400, code: 'validation_failed', message: 'Malformed HTTP request' };

/**
 * Builds the handler answering a request Node's HTTP parser refused before any framework saw it (oversized headers,
 * a malformed request line or header, bad chunking, a request that timed out) with the `{ statusCode, code, message }`
 * body every other error has, instead of Node's empty answer, and telling `onAnswered` its status so that it is
 * logged and measured like any other (the app's `reportAnsweredRequest`). The same handler serves Express (a
 * `clientError` listener) and Fastify (its `clientErrorHandler` option). Nothing of the request is echoed or passed
 * on; a connection already reset, no longer writable or in the middle of a response gets no answer and is not
 * reported.
 */
export function clientErrorAnswerer(
  onAnswered: (answer: AnsweredRequest) => void,
): (error: Error & { code?: string }, socket: Duplex) => void {
  return (error, socket) => {
    // A response already under way on this connection (a stream) cannot be followed by another answer: as Node's own
    // handler does, the connection is closed instead.
    const current = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } | null })._httpMessage;
    if (error.code === 'ECONNRESET' || !socket.writable || current?.headersSent === true) {
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
    onAnswered({ status: answer.status });
  };
}
