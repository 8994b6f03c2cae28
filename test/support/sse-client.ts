/**
 * A small Server-Sent Events client over Node's fetch for e2e suites: reads events as they arrive, can hang up
 * after a number of events of a type, and answers plain JSON responses (a refused admission) as they are.
 */

export interface SseEvent {
  event: string;
  data: unknown;
}

export interface SseResult {
  status: number;
  headers: Headers;
  /** The events received (empty when the answer was not a stream). */
  events: SseEvent[];
  /** The JSON body when the answer was not a stream. */
  json?: Record<string, unknown>;
  /** Whether the client hung up before the stream ended. */
  aborted: boolean;
}

export interface SseOptions {
  /** Hang up once this many events named `stopAfter.event` were received. */
  stopAfter?: { event: string; count: number };
}

function parseEvent(block: string): SseEvent | null {
  let event = 'message';
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith('event: ')) event = line.slice('event: '.length);
    else if (line.startsWith('data: ')) data.push(line.slice('data: '.length));
  }
  if (!data.length) return null;
  const text = data.join('\n');
  try {
    return { event, data: JSON.parse(text) };
  } catch {
    return { event, data: text };
  }
}

/** POSTs `body` with `Accept: text/event-stream` and reads the answer. */
export async function postSse(
  url: string,
  headers: Record<string, string>,
  body: unknown,
  options: SseOptions = {},
): Promise<SseResult> {
  const controller = new AbortController();
  const res = await fetch(url, {
    method: 'POST',
    headers: { ...headers, accept: 'text/event-stream', 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: controller.signal,
  });
  if (!(res.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
    const text = await res.text();
    return {
      status: res.status,
      headers: res.headers,
      events: [],
      json: text ? (JSON.parse(text) as Record<string, unknown>) : {},
      aborted: false,
    };
  }
  const events: SseEvent[] = [];
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let counted = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
      const event = parseEvent(buffer.slice(0, end));
      buffer = buffer.slice(end + 2);
      if (!event) continue;
      events.push(event);
      if (options.stopAfter && event.event === options.stopAfter.event && ++counted >= options.stopAfter.count) {
        controller.abort();
        await reader.cancel().catch(() => undefined);
        return { status: res.status, headers: res.headers, events, aborted: true };
      }
    }
  }
  return { status: res.status, headers: res.headers, events, aborted: false };
}

/** The events named `name`. */
export const eventsNamed = (result: SseResult, name: string): SseEvent[] =>
  result.events.filter((e) => e.event === name);
