import { createHmac, timingSafeEqual } from 'node:crypto';
import { Logger } from '@nestjs/common';

/** The header carrying a delivery's signature: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. */
export const ALERT_SIGNATURE_HEADER = 'X-Policy-Signature';

/**
 * The signature header value of `body` at `timestamp` (unix seconds).
 * @example
 * signAlertBody(secret, body, Math.floor(Date.now() / 1000)); // 't=1764331200,v1=5f1c…'
 */
export function signAlertBody(secret: string, body: string, timestamp: number): string {
  return `t=${timestamp},v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/**
 * Checks a delivery on the receiving side: the signature matches the raw body and is at most `toleranceSeconds`
 * old (default 300), compared in constant time.
 * @example
 * if (!verifyAlertSignature(secret, rawBody, req.headers['x-policy-signature'])) return res.status(401).end();
 */
export function verifyAlertSignature(
  secret: string,
  body: string,
  header: string | undefined,
  toleranceSeconds = 300,
  now = Date.now(),
): boolean {
  const match = /^t=(\d{1,12}),v1=([0-9a-f]{64})$/.exec(header ?? '');
  if (!match) return false;
  const timestamp = Number(match[1]);
  if (Math.abs(now / 1000 - timestamp) > toleranceSeconds) return false;
  const expected = Buffer.from(signAlertBody(secret, body, timestamp).slice(-64), 'hex');
  return timingSafeEqual(expected, Buffer.from(match[2], 'hex'));
}

/** Options of {@link WebhookSender}. */
export interface WebhookSenderOptions {
  url: string;
  secret: string;
  /** Per attempt (default 5,000 ms). */
  timeoutMs?: number;
  /** Attempts per event (default 5). */
  attempts?: number;
  /** Wait before the second attempt, doubled each time, ±20% jitter, at most 5 minutes (default 1,000 ms). */
  backoffMs?: number;
  /** Most events waiting or in flight (default 1,000); the newest are dropped beyond it. */
  maxQueue?: number;
  /** Deliveries in flight at once (default 4). */
  concurrency?: number;
}

interface Job {
  id: string;
  body: string;
  attempt: number;
}

/**
 * Delivers JSON events to one URL off the request path: `send` queues and returns at once. Each attempt is a POST
 * with a timeout; a network error, a timeout or a non-2xx answer is retried with exponential back-off until the
 * attempts run out. Redirects are not followed. Every attempt is signed afresh (`X-Policy-Signature`) and carries the
 * same `X-Policy-Delivery` id, so a receiver can drop duplicates.
 */
export class WebhookSender {
  private readonly logger = new Logger('AnomalyWebhook');
  private readonly queue: Job[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly controllers = new Set<AbortController>();
  private inFlight = 0;
  private waiting = 0;
  private closed = false;
  /** Attempts made and events given up, for tests and metrics. */
  readonly stats = { attempts: 0, delivered: 0, failed: 0, dropped: 0 };

  constructor(private readonly options: WebhookSenderOptions) {}

  /** Queues `event` for delivery; false when the queue is full (the event is dropped and logged). */
  send(id: string, event: unknown): boolean {
    if (this.closed) return false;
    if (this.queue.length + this.inFlight + this.waiting >= (this.options.maxQueue ?? 1000)) {
      this.stats.dropped++;
      this.logger.warn(`Webhook queue full; event ${id} not delivered`);
      return false;
    }
    this.queue.push({ id, body: JSON.stringify(event), attempt: 0 });
    this.pump();
    return true;
  }

  /** Stops: pending retries are dropped and attempts in flight aborted. */
  close(): void {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const controller of this.controllers) controller.abort();
    this.queue.length = 0;
  }

  private pump(): void {
    while (!this.closed && this.inFlight < (this.options.concurrency ?? 4) && this.queue.length) {
      const job = this.queue.shift()!;
      this.inFlight++;
      void this.attempt(job).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private async attempt(job: Job): Promise<void> {
    job.attempt++;
    this.stats.attempts++;
    const controller = new AbortController();
    this.controllers.add(controller);
    const timer = setTimeout(() => controller.abort(), this.options.timeoutMs ?? 5000);
    timer.unref();
    let failure: string | null = null;
    try {
      const response = await fetch(this.options.url, {
        method: 'POST',
        redirect: 'manual',
        signal: controller.signal,
        headers: {
          'content-type': 'application/json',
          'user-agent': 'nest-agent-policy-alerts',
          'x-policy-event': 'security.anomaly',
          'x-policy-delivery': job.id,
          [ALERT_SIGNATURE_HEADER.toLowerCase()]: signAlertBody(
            this.options.secret,
            job.body,
            Math.floor(Date.now() / 1000),
          ),
        },
        body: job.body,
      });
      // The answer's body is never read: a receiver's endless or huge body costs nothing here.
      await response.body?.cancel().catch(() => undefined);
      if (response.status < 200 || response.status >= 300) failure = `HTTP ${response.status}`;
    } catch (error) {
      failure = controller.signal.aborted ? 'timed out' : (error as Error).message;
    } finally {
      clearTimeout(timer);
      this.controllers.delete(controller);
    }
    if (failure === null) {
      this.stats.delivered++;
      return;
    }
    const attempts = this.options.attempts ?? 5;
    if (this.closed || job.attempt >= attempts) {
      this.stats.failed++;
      this.logger.warn(`Webhook delivery ${job.id} failed after ${job.attempt} attempt(s): ${failure}`);
      return;
    }
    const base = (this.options.backoffMs ?? 1000) * 2 ** (job.attempt - 1);
    const delay = Math.min(300_000, base * (0.8 + Math.random() * 0.4));
    this.waiting++;
    const retry = setTimeout(() => {
      this.timers.delete(retry);
      this.waiting--;
      if (this.closed) return;
      this.queue.push(job);
      this.pump();
    }, delay);
    retry.unref();
    this.timers.add(retry);
  }
}
