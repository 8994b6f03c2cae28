import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AnsweredRequest } from 'nest-agent-policy';

const ANSWERS: Record<string, { status: number; code: string; message: string }> = {
  HPE_HEADER_OVERFLOW: { status: 431, code: 'headers_too_large', message: 'Request headers are too large' },
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, code: 'request_timeout', message: 'The request took too long to arrive' },
};
const BAD_REQUEST = { status: 400, code: 'validation_failed', message: 'Malformed HTTP request' };

/** The response Node is writing on a connection, and its request. */
interface InFlightResponse {
  readonly headersSent: boolean;
  readonly req?: { readonly complete: boolean };
  once(event: 'finish' | 'close', listener: () => void): unknown;
  off(event: 'finish' | 'close', listener: () => void): unknown;
}

type HttpSocket = Duplex & { _httpMessage?: InFlightResponse | null };

/**
 * Builds the handler answering a request Node's HTTP parser refused before any framework saw it (oversized headers,
 * a malformed request line or header, bad chunking, a request that timed out) with the `{ statusCode, code, message }`
 * body every other error has, instead of Node's empty answer, and telling `onAnswered` its status so that it is
 * logged and measured like any other (the app's `reportAnsweredRequest`). The same handler serves Express (a
 * `clientError` listener) and Fastify (its `clientErrorHandler` option). Nothing of the request is echoed or passed
 * on. A request refused behind earlier ones on the same connection (pipelined) is answered after theirs, in order;
 * a connection already reset or no longer writable, or whose own request is refused halfway through a response
 * already under way, gets no answer and is not reported.
 */
export function clientErrorAnswerer(
  onAnswered: (answer: AnsweredRequest) => void,
): (error: Error & { code?: string }, socket: Duplex) => void {
  // Connections whose refusal waits for the answers before it: the parser reports its error again for every chunk
  // that arrives after it, which must not answer twice.
  const waiting = new WeakSet<Duplex>();
  return (error, socket) => {
    if (waiting.has(socket)) return;
    if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const answer = ANSWERS[error.code ?? ''] ?? BAD_REQUEST;
    const send = () => {
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
    const answerInTurn = (): void => {
      const current = (socket as HttpSocket)._httpMessage ?? null;
      if (!socket.writable) {
        socket.destroy();
      } else if (current?.req?.complete === true) {
        // An earlier request, received whole, is still being answered (the refused one was pipelined behind it): its
        // answer goes out first, then this one. Written now, the refusal would be read as the earlier request's
        // answer (and that answer lost, though the request was carried out). Node's own 'finish' listener, registered
        // first, moves the connection on to the next answer (or none) before this one looks again.
        waiting.add(socket);
        const next = () => {
          current.off('finish', next);
          current.off('close', next);
          answerInTurn();
        };
        current.once('finish', next);
        current.once('close', next);
      } else if (current?.headersSent === true) {
        // The refused bytes belong to the request being answered (its body), whose answer is under way: it cannot be
        // followed by another, so the connection is closed, as Node's own handler does.
        socket.destroy();
      } else {
        send();
      }
    };
    answerInTurn();
  };
}
