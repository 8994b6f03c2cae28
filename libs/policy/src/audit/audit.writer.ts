import { createHmac, randomUUID } from 'node:crypto';
import { timeOrderedUuid } from '../persistence/time-ordered-id';
import {
  Inject,
  Injectable,
  Logger,
  Optional,
  type BeforeApplicationShutdown,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { AuditConfig } from '../policy-module-options.interface';
import { AuditEventEntity } from './audit-event.entity';
import { AUDIT_EVENT_TYPES, type AuditEventDraft } from './audit-event.interface';
import {
  AUDIT_RECORD_COLUMNS,
  GENESIS_HASH,
  hashEvent,
  type AuditChainFields,
  type AuditChainRecord,
} from './audit.chain';
import {
  AUDIT_CONFIG,
  AUDIT_WRITER_OPTIONS,
  DEFAULT_AUDIT_BATCH_SIZE,
  DEFAULT_AUDIT_FLUSH_INTERVAL_MS,
  DEFAULT_AUDIT_MAX_QUEUE,
  DEFAULT_AUDIT_MAX_WAIT_MS,
} from './audit.constants';
import { redact, redactString } from './audit.redaction';
import { canonicalJson } from './canonical-json';
import { isPermanentWriteError, storableJson, storableText } from '../persistence/storable';
import { createBulkInsert, type BulkInsert } from '../persistence/bulk-insert';
import { PolicyUnavailableException } from '../policy.exceptions';

/** Options beyond {@link AuditConfig}. */
export interface AuditWriterOptions {
  /**
   * The chain this writer appends to. Default: a new random id per writer, i.e. one chain per process start.
   * A fixed id resumes that chain from its last stored event; it must never be used by two live processes at once.
   */
  readonly chainId?: string;
}

type PendingEvent = Omit<AuditChainFields, 'seq' | 'chainId'>;
type ChainHead = { readonly seq: number; readonly hash: string };

const KNOWN_TYPES: ReadonlySet<string> = new Set(AUDIT_EVENT_TYPES);
const MAX_RETRY_DELAY_MS = 5_000;

/**
 * Writes audit events off the request path. `record()` redacts the event and queues it; a background loop writes
 * the queue in batches, one transaction per batch, hash-chaining the events of this writer's chain in memory.
 * Text the database cannot store (NUL, lone UTF-16 surrogates) is replaced by U+FFFD before hashing, so what is
 * stored is what is hashed. A batch that fails for a reason that would fail again (the database refused the data:
 * SQL states 22xxx and 23xxx, SQLite constraint/size/type errors) is split until the refused event is alone; that
 * event is dropped, the rest is stored, and an `audit.dropped` event records the drop. Any other failure (the
 * database is down) keeps the batch queued and retries it with back-off. When the queue is full `record()` waits
 * for room at most `maxWaitMs`, then fails with 503 `unavailable`: an audited request is refused, never left
 * hanging. Flushed before the application shuts down (call `app.enableShutdownHooks()` so SIGTERM gets there),
 * ahead of TypeORM closing its connection.
 */
@Injectable()
export class AuditWriter implements BeforeApplicationShutdown, OnApplicationShutdown {
  protected readonly logger = new Logger(AuditWriter.name);
  /** The chain this writer appends to. */
  readonly chainId: string;
  private readonly batchSize: number;
  private readonly flushIntervalMs: number;
  private readonly maxQueue: number;
  private readonly maxWaitMs: number;
  private readonly ipSalt: string | undefined;
  private readonly queue: PendingEvent[] = [];
  private waiters: Array<() => void> = [];
  private head: Promise<ChainHead> | null = null;
  private draining: Promise<void> | null = null;
  private insert: BulkInsert<AuditChainRecord> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private failures = 0;
  private closed = false;

  /** @throws Error naming the `audit.*` key when the configuration is invalid. */
  constructor(
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Optional() @Inject(AUDIT_CONFIG) config?: AuditConfig | null,
    @Optional() @Inject(AUDIT_WRITER_OPTIONS) options?: AuditWriterOptions | null,
  ) {
    this.batchSize = positiveInteger('audit.batchSize', config?.batchSize, DEFAULT_AUDIT_BATCH_SIZE);
    this.maxQueue = positiveInteger('audit.maxQueue', config?.maxQueue, DEFAULT_AUDIT_MAX_QUEUE);
    this.flushIntervalMs = positiveInteger(
      'audit.flushIntervalMs',
      config?.flushIntervalMs,
      DEFAULT_AUDIT_FLUSH_INTERVAL_MS,
    );
    this.maxWaitMs = positiveInteger('audit.maxWaitMs', config?.maxWaitMs, DEFAULT_AUDIT_MAX_WAIT_MS);
    if (config?.hashIpSalt !== undefined && (typeof config.hashIpSalt !== 'string' || config.hashIpSalt === '')) {
      throw new Error('audit.hashIpSalt must be a non-empty string');
    }
    this.ipSalt = config?.hashIpSalt;
    this.chainId = options?.chainId ?? randomUUID();
    if (this.chainId.length === 0 || this.chainId.length > 64)
      throw new Error('The audit chain id must have 1 to 64 characters');
  }

  /** Events queued or being written. */
  get pending(): number {
    return this.queue.length;
  }

  /**
   * Redacts and queues an event. Resolves once it is queued, waiting first while the queue is full.
   * @throws TypeError for an unknown event type; Error once the writer has shut down;
   * PolicyUnavailableException (503 `unavailable`) when the queue stayed full for `maxWaitMs`.
   */
  async record(event: AuditEventDraft): Promise<void> {
    this.assertOpen();
    if (!KNOWN_TYPES.has(event.type)) throw new TypeError(`Unknown audit event type "${String(event.type)}"`);
    if (typeof event.id !== 'string' || event.id.length === 0 || event.id.length > 36) {
      throw new TypeError('An audit event id must be a string of 1 to 36 characters');
    }
    const pending = this.prepare(event);
    const deadline = Date.now() + this.maxWaitMs;
    // Checked and pushed in one synchronous step, so producers woken together never overfill the queue.
    while (this.queue.length >= this.maxQueue) await this.awaitRoom(deadline);
    this.queue.push(pending);
    this.trigger(this.queue.length >= this.batchSize);
  }

  /** Writes everything queued so far. @throws the database error when a batch cannot be written (it stays queued). */
  async flush(): Promise<void> {
    while (this.queue.length > 0 || this.draining) await this.drain();
  }

  /** Flushes and stops accepting events; for use outside Nest. */
  async close(): Promise<void> {
    await this.flush();
    this.stop();
  }

  /** Runs before Nest's shutdown hooks, hence before TypeORM destroys the DataSource. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.flush();
  }

  /** Writes what arrived after the first flush (in-flight requests) while the connection is still open. */
  async onApplicationShutdown(): Promise<void> {
    try {
      if (this.queue.length > 0 && this.dataSource.isInitialized) await this.flush();
    } finally {
      if (this.queue.length > 0)
        this.logger.error(`${this.queue.length} audit event(s) could not be written before shutdown`);
      this.stop();
    }
  }

  /** The redacted, stored form of an event (before chaining). */
  protected prepare(event: AuditEventDraft): PendingEvent {
    const ip = clip(event.ip, 255);
    return {
      id: storableText(event.id),
      type: event.type,
      outcome: clip(event.outcome, 32) ?? 'FAILURE',
      principalId: clip(event.principalId, 255),
      tenantId: clip(event.tenantId, 255),
      operation: clip(event.operation, 255),
      reasons: canonicalJson(storableJson(redact(event.reasons ?? []))),
      requestId: clip(event.requestId, 255),
      ip: ip !== null && this.ipSalt ? createHmac('sha256', this.ipSalt).update(ip).digest('hex') : ip,
      details:
        event.details === null || event.details === undefined
          ? null
          : canonicalJson(storableJson(redact(event.details))),
      createdAt: Number.isFinite(event.createdAt) ? Math.trunc(event.createdAt) : Date.now(),
    };
  }

  /** Writes one batch in one transaction. Protected so that a subclass can observe or decorate writes. */
  protected async writeBatch(rows: readonly AuditChainRecord[]): Promise<void> {
    this.insert ??= createBulkInsert<AuditChainRecord>(this.dataSource, AuditEventEntity, AUDIT_RECORD_COLUMNS);
    await this.insert(rows);
  }

  private drain(): Promise<void> {
    this.draining ??= this.drainQueue().finally(() => {
      this.draining = null;
    });
    return this.draining;
  }

  private async drainQueue(): Promise<void> {
    while (this.queue.length > 0) await this.writeFront(Math.min(this.batchSize, this.queue.length));
  }

  /**
   * Writes the first `count` queued events, chained onto the stored head. When the database refuses the data, the
   * events are written in halves, down to the one it refuses, which is dropped (and the drop recorded); written
   * events leave the queue as soon as they are committed, so a later retry never writes them twice.
   */
  private async writeFront(count: number): Promise<void> {
    const head = await this.loadHead();
    const rows: AuditChainRecord[] = [];
    let { seq, hash } = head;
    for (const event of this.queue.slice(0, count)) {
      const fields: AuditChainFields = { ...event, chainId: this.chainId, seq: seq + 1 };
      const next = hashEvent(hash, fields);
      rows.push({ ...fields, prevHash: hash, hash: next });
      seq += 1;
      hash = next;
    }
    try {
      await this.writeBatch(rows);
    } catch (error) {
      if (!isPermanentWriteError(error)) throw error;
      if (count > 1) {
        const half = Math.ceil(count / 2);
        await this.writeFront(half);
        await this.writeFront(count - half);
        return;
      }
      const [dropped] = this.queue.splice(0, 1);
      this.releaseWaiters();
      this.recordDrop(dropped, error);
      return;
    }
    this.head = Promise.resolve({ seq, hash });
    this.queue.splice(0, count);
    this.releaseWaiters();
  }

  /** Queues an `audit.dropped` event naming a dropped event (never its values); a dropped drop is only logged. */
  private recordDrop(dropped: PendingEvent, error: unknown): void {
    const reason = writeErrorCode(error);
    this.logger.error(
      `Audit event ${dropped.id} (${dropped.type}) was refused by the database (${reason}) and dropped`,
    );
    if (dropped.type === 'audit.dropped') return;
    this.queue.push(
      this.prepare({
        id: timeOrderedUuid(),
        type: 'audit.dropped',
        outcome: 'FAILURE',
        principalId: null,
        tenantId: dropped.tenantId,
        operation: dropped.operation,
        reasons: [`the database refused audit event ${dropped.id} (${dropped.type}); it was dropped`],
        requestId: dropped.requestId,
        ip: null,
        details: { droppedId: dropped.id, droppedType: dropped.type, droppedAt: dropped.createdAt, error: reason },
        createdAt: Date.now(),
      }),
    );
  }

  /** Waits until some room was made or `deadline` passed. @throws PolicyUnavailableException past the deadline. */
  private async awaitRoom(deadline: number): Promise<void> {
    this.trigger(true);
    let wake: () => void = () => undefined;
    const woken = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), Math.max(0, deadline - Date.now()));
      wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.waiters.push(wake);
    });
    this.assertOpen();
    if (!woken && this.queue.length >= this.maxQueue) {
      this.waiters = this.waiters.filter((waiter) => waiter !== wake);
      this.logger.error(
        `The audit queue stayed full (${this.queue.length} events) for ${this.maxWaitMs} ms; an event was refused`,
      );
      throw new PolicyUnavailableException('The audit log is not accepting events');
    }
  }

  private loadHead(): Promise<ChainHead> {
    this.head ??= this.dataSource
      .getRepository(AuditEventEntity)
      .findOne({ select: { seq: true, hash: true }, where: { chainId: this.chainId }, order: { seq: 'DESC' } })
      .then((last) => (last ? { seq: Number(last.seq), hash: last.hash } : { seq: 0, hash: GENESIS_HASH }))
      .catch((error: unknown) => {
        this.head = null;
        throw error;
      });
    return this.head;
  }

  /** Starts a background write now (`immediate`) or after the flush interval. */
  private trigger(immediate: boolean): void {
    if (this.draining) return;
    if (immediate && this.failures === 0) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      this.runInBackground();
      return;
    }
    this.timer ??= setTimeout(
      () => {
        this.timer = null;
        this.runInBackground();
      },
      this.failures === 0
        ? this.flushIntervalMs
        : Math.min(this.flushIntervalMs * 2 ** this.failures, MAX_RETRY_DELAY_MS),
    );
    this.timer.unref();
  }

  private runInBackground(): void {
    this.drain()
      .then(
        () => {
          this.failures = 0;
        },
        (error: unknown) => {
          this.failures += 1;
          const message = error instanceof Error ? error.message : String(error);
          this.logger.error(`Writing ${this.queue.length} audit event(s) failed, retrying: ${redactString(message)}`);
        },
      )
      .finally(() => {
        if (this.queue.length > 0 && !this.closed) this.trigger(false);
      });
  }

  private releaseWaiters(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('The audit writer has shut down; the event was not recorded');
  }

  private stop(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.releaseWaiters();
  }
}

function clip(value: string | null | undefined, length: number): string | null {
  if (value === null || value === undefined) return null;
  // Sliced first: a cut through a surrogate pair leaves a lone half, which storableText replaces too.
  return storableText(redactString(String(value)).slice(0, length));
}

function writeErrorCode(error: unknown): string {
  const code = (error as { driverError?: { code?: unknown } } | null)?.driverError?.code;
  return typeof code === 'string' && /^[A-Z0-9_]{1,40}$/.test(code) ? code : 'rejected';
}

function positiveInteger(key: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`${key} must be a positive integer (got ${String(value)})`);
  return value;
}
