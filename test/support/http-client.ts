/**
 * A small HTTP client for e2e tests that look at exactly what the server sent: Node's client for ordinary requests
 * (kept alive unless `fresh`), and a raw socket for bytes Node's client refuses to send (NUL in a path or a header).
 */
import { request as httpRequest, Agent, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  /** Header names and values as they came on the wire, in order. */
  rawHeaders: string[];
  text: string;
  /** The body parsed as JSON, or its text when it is not JSON. */
  body: any;
}

export const parseBody = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
};

/** The kept-alive agent of {@link send}: a suite destroys it when done (`afterAll(() => keepAlive.destroy())`). */
export const keepAlive = new Agent({ keepAlive: true, maxSockets: 24 });

/** One request over Node's HTTP client; a `body` is sent as JSON. */
export function send(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string | string[]> = {},
  body?: unknown,
  options: { fresh?: boolean } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        path,
        method,
        agent: options.fresh ? false : keepAlive,
        headers: payload === undefined ? headers : { ...headers, 'Content-Type': 'application/json' },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            rawHeaders: res.rawHeaders,
            text,
            body: parseBody(text),
          });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** A GET over Node's HTTP client (kept alive unless `fresh`). */
export const get = (port: number, path: string, headers: Record<string, string | string[]> = {}, fresh = false) =>
  send(port, 'GET', path, headers, undefined, { fresh });

/**
 * A request written byte for byte on a socket, and the answer as read until the server closes (a chunked body is
 * decoded). With `tolerateReset`, a connection reset ends the answer instead of failing it.
 */
export function rawRequest(port: number, head: string, options: { tolerateReset?: boolean } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(Buffer.from(head, 'latin1')));
    const chunks: Buffer[] = [];
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer')));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (!(options.tolerateReset && err.code === 'ECONNRESET')) reject(err);
    });
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      const headLines = (split < 0 ? text : text.slice(0, split)).split('\r\n');
      const headers: IncomingHttpHeaders = {};
      const rawHeaders: string[] = [];
      for (const line of headLines.slice(1)) {
        const colon = line.indexOf(':');
        if (colon <= 0) continue;
        rawHeaders.push(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      let body = split < 0 ? '' : text.slice(split + 4);
      if (headers['transfer-encoding'] === 'chunked') {
        let out = '';
        let rest = body;
        for (;;) {
          const eol = rest.indexOf('\r\n');
          const size = parseInt(rest.slice(0, eol), 16);
          if (!size) break;
          out += rest.slice(eol + 2, eol + 2 + size);
          rest = rest.slice(eol + 2 + size + 2);
        }
        body = out;
      }
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(headLines[0])?.[1] ?? 0);
      resolve({ status, headers, rawHeaders, text: body, body: parseBody(body) });
    });
  });
}

/** Runs `n` tasks, `width` at a time. */
export async function inPool<T>(n: number, width: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array<T>(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < n) {
        const i = next++;
        out[i] = await task(i);
      }
    }),
  );
  return out;
}
