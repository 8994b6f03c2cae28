/** A local webhook receiver and paced load for the anomaly-alert suites. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ADMIN, signToken, type Harness } from '../support/agent-api.harness';

export const WEBHOOK_SECRET = 'alerts-webhook-secret-0123456789';

export interface Delivery {
  at: number;
  headers: IncomingMessage['headers'];
  body: string;
}

/** How the receiver answers: 204, 500, or never (the connection is held until the receiver closes). */
export type ReceiverMode = 'ok' | 'fail' | 'hang';

export interface Receiver {
  url: string;
  mode: ReceiverMode;
  /** Every request received, answered or not. */
  deliveries: Delivery[];
  close(): Promise<void>;
}

export async function startReceiver(mode: ReceiverMode = 'ok'): Promise<Receiver> {
  const held: ServerResponse[] = [];
  const receiver: Receiver = { url: '', mode, deliveries: [], close: async () => undefined };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      receiver.deliveries.push({ at: Date.now(), headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      if (receiver.mode === 'hang') held.push(res);
      else res.writeHead(receiver.mode === 'ok' ? 204 : 500).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/policy`;
  receiver.close = async () => {
    for (const res of held) res.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return receiver;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Waits for `check` to hold, polling every 150 ms (a check that reads the audit log is a principal's request too:
 * at most 7 a second stays under the tests' minCount of 10); fails with `what` after `timeoutMs`.
 */
export async function poll<T>(
  what: string,
  check: () => Promise<T | null | undefined | false> | T | null | undefined | false,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await sleep(150);
  }
}

/** Calls `send` `perSecond` times a second for `seconds`, evenly spaced (no catching up in bursts). */
export async function paced(perSecond: number, seconds: number, send: () => Promise<unknown>): Promise<void> {
  const interval = 1000 / perSecond;
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    const started = Date.now();
    await send();
    await sleep(Math.max(0, interval - (Date.now() - started)));
  }
}

/** Waits until just after the start of the next whole second (the tests' 1 s buckets). */
export async function nextBucket(): Promise<void> {
  await sleep(1000 - (Date.now() % 1000) + 20);
}

/** A test policy's `alerts`: 1 s buckets, 5 of baseline, an anomaly from 10 events at z ≥ 4. */
export function testAlerts(receiver: Receiver, extra: Record<string, unknown> = {}) {
  return {
    bucketSeconds: 1,
    baselineBuckets: 5,
    zScore: 4,
    minCount: 10,
    webhookUrl: receiver.url,
    webhookSecret: WEBHOOK_SECRET,
    webhookAttempts: 3,
    webhookBackoffMs: 100,
    webhookTimeoutMs: 500,
    ...extra,
  };
}

export interface AnomalyAudit {
  id: string;
  type: string;
  outcome: string;
  principalId: string | null;
  reasons: string[];
  details: Record<string, unknown> & { metric: string; observed: number; baselineMean: number; z: number };
}

/** The `security.anomaly` events of an app's audit log (optionally of one principal). */
export async function anomalies(h: Harness, principalId?: string): Promise<AnomalyAudit[]> {
  const auditor = { Authorization: `Bearer ${signToken({ sub: 'alerts-auditor', ...ADMIN })}` };
  const query = principalId ? `&principalId=${encodeURIComponent(principalId)}` : '';
  const res = await h.http().get(`/audit?type=security.anomaly${query}`).set(auditor);
  if (res.status !== 200) throw new Error(`GET /audit answered ${res.status}`);
  return res.body.items as AnomalyAudit[];
}
