import { HttpException } from '@nestjs/common';
import { Readable } from 'node:stream';
import { Observable } from 'rxjs';
import { fromMicroUsd } from '../persistence/column-types';
import { BudgetExceededException } from '../policy.exceptions';
import type { ReservationBudgetMeter, BudgetMeterOutcome } from './budget-meter';
import type { BudgetSettlement } from './budget.service';

/** One Server-Sent Event of a budgeted stream (the shape of Nest's `MessageEvent`). */
export interface BudgetStreamEvent {
  /** The SSE `event:` name; `done` is held back until the call is settled and then carries `budget`. */
  type?: string;
  id?: string;
  data: unknown;
}

/** What the budget headers say, for the final `done` event. */
export interface BudgetStreamSummary {
  remaining?: string;
  reset?: number;
  warning?: number;
}

const oneLine = (value: string): string =>
  value.includes('\n') || value.includes('\r') ? value.replace(/[\r\n]/g, '') : value;

/** Serialises one event: `event:`, `id:`, then one `data:` line per line of its data (JSON unless a string). */
export function formatSseEvent(event: BudgetStreamEvent): string {
  const data = typeof event.data === 'string' ? event.data : JSON.stringify(event.data ?? null);
  let text = '';
  if (event.type) text += `event: ${oneLine(event.type)}\n`;
  if (event.id) text += `id: ${oneLine(event.id)}\n`;
  // JSON never holds a raw line break; a string may, and each of its lines gets a `data:` line of its own.
  if (!data.includes('\n') && !data.includes('\r')) return `${text}data: ${data}\n\n`;
  for (const line of data.split(/\r\n|\r|\n/)) text += `data: ${line}\n`;
  return `${text}\n`;
}

/** An event as the handler yields it: a `{ type?, data }` event, or anything else as the data of a `message`. */
export function toStreamEvent(value: unknown): BudgetStreamEvent {
  if (typeof value === 'object' && value !== null && 'data' in value) {
    const { type, id, data } = value as { type?: unknown; id?: unknown; data: unknown };
    return { type: typeof type === 'string' ? type : undefined, id: typeof id === 'string' ? id : undefined, data };
  }
  return { data: value };
}

/** The `error` event of a stream that could not go on: the error's code and message, never a stack. */
export function streamErrorEvent(error: unknown): BudgetStreamEvent {
  if (error instanceof HttpException) {
    const body = error.getResponse();
    if (typeof body === 'object' && body !== null && typeof (body as { code?: unknown }).code === 'string') {
      const { statusCode: _status, ...rest } = body as Record<string, unknown>;
      return { type: 'error', data: rest };
    }
    return { type: 'error', data: { code: 'internal_error', message: error.message } };
  }
  return { type: 'error', data: { code: 'internal_error', message: 'The stream failed' } };
}

export function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function'
  );
}

export interface BudgetStreamHooks {
  /** The settled budget, for the `done` event. */
  summary(settlement: BudgetSettlement | null): BudgetStreamSummary;
}

/**
 * Turns a handler's async iterable of events into the SSE body of a budgeted call. The first event is awaited
 * before this answers, so a handler (or meter) that fails before producing anything still gets a plain JSON error.
 * The body then: writes each event as it comes; ends with an `error` event when the meter refuses usage past the
 * reservation (`budget_exceeded`) or the handler fails; settles the meter to what was produced (`settled`,
 * `failed`); and when the client goes away stops the handler and settles as `cancelled`. The `done` event (the
 * handler's, or one the library adds) is written last, after settlement, with `usage.cost` and `budget`.
 * @throws whatever the handler throws before its first event (nothing was sent or settled then).
 */
export async function openBudgetStream(
  source: AsyncIterable<unknown>,
  meter: ReservationBudgetMeter,
  hooks: BudgetStreamHooks,
): Promise<BudgetStream> {
  const iterator = source[Symbol.asyncIterator]();
  const first = await iterator.next();
  let clientGone = false;
  let ended = false;

  async function* events(): AsyncGenerator<string> {
    let finished = false;
    try {
      let outcome: BudgetMeterOutcome = 'settled';
      let failure: BudgetStreamEvent | null = null;
      let done: BudgetStreamEvent | null = null;
      try {
        for (let next = first; !next.done && !clientGone; next = await iterator.next()) {
          const event = toStreamEvent(next.value);
          if (event.type === 'done') done = event;
          else yield formatSseEvent(event);
        }
      } catch (error) {
        outcome = error instanceof BudgetExceededException ? 'settled' : 'failed';
        failure = streamErrorEvent(error);
        void iterator.return?.()?.catch(() => undefined);
      }
      if (clientGone) return;
      finished = true;
      const settlement = await meter.settle(outcome);
      yield formatSseEvent(failure ?? finalEvent(done, settlement, meter, hooks));
      ended = true;
    } finally {
      if (!finished) {
        // The client went away mid-stream: stop the producer and charge what was produced.
        meter.abort();
        void iterator.return?.()?.catch(() => undefined);
        await meter.settle('cancelled');
      }
    }
  }

  const body = Readable.from(events(), { objectMode: false, highWaterMark: 1 });
  return {
    body,
    cancel: () => {
      if (clientGone || ended) return;
      clientGone = true;
      meter.abort();
      body.destroy();
    },
  };
}

/** The SSE body of a budgeted call, and how to stop it when the client goes away. */
export interface BudgetStream {
  body: Readable;
  /** The client went away: stop the producer now and settle what was produced as `cancelled`. */
  cancel(): void;
}

/**
 * The events of an `@Sse()` route, metered: the same ending as {@link openBudgetStream} (an `error` event past the
 * reservation or on failure, the `done` event after settlement), and a client that goes away (Nest unsubscribes)
 * stops the producer and settles as `cancelled`.
 */
export function meterEventObservable(
  source: Observable<unknown>,
  meter: ReservationBudgetMeter,
  hooks: BudgetStreamHooks,
): Observable<BudgetStreamEvent> {
  return new Observable<BudgetStreamEvent>((subscriber) => {
    let finished = false;
    let done: BudgetStreamEvent | null = null;
    const end = (outcome: BudgetMeterOutcome, failure: BudgetStreamEvent | null): void => {
      finished = true;
      void meter.settle(outcome).then((settlement) => {
        subscriber.next(failure ?? finalEvent(done, settlement, meter, hooks));
        subscriber.complete();
      });
    };
    const inner = source.subscribe({
      next: (value) => {
        const event = toStreamEvent(value);
        if (event.type === 'done') done = event;
        else subscriber.next(event);
      },
      error: (error: unknown) =>
        end(error instanceof BudgetExceededException ? 'settled' : 'failed', streamErrorEvent(error)),
      complete: () => end('settled', null),
    });
    return () => {
      inner.unsubscribe();
      if (!finished) {
        meter.abort();
        void meter.settle('cancelled');
      }
    };
  });
}

function finalEvent(
  done: BudgetStreamEvent | null,
  settlement: BudgetSettlement | null,
  meter: ReservationBudgetMeter,
  hooks: BudgetStreamHooks,
): BudgetStreamEvent {
  const cost = settlement ? fromMicroUsd(settlement.charge.costMicro) : undefined;
  const budget = hooks.summary(settlement);
  if (done && typeof done.data === 'object' && done.data !== null) {
    const data = { ...(done.data as Record<string, unknown>) };
    const usage = data.usage;
    if (
      typeof usage === 'object' &&
      usage !== null &&
      (usage as { cost?: unknown }).cost === undefined &&
      cost !== undefined
    ) {
      data.usage = { ...(usage as Record<string, unknown>), cost };
    }
    return { ...done, data: { ...data, budget } };
  }
  const totals = meter.usage.reduce(
    (sum, r) => ({ inputTokens: sum.inputTokens + r.inputTokens, outputTokens: sum.outputTokens + r.outputTokens }),
    { inputTokens: 0, outputTokens: 0 },
  );
  return { type: 'done', data: { ...(done ? { value: done.data } : {}), usage: { ...totals, cost }, budget } };
}
