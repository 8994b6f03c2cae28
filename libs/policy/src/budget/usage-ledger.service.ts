import { timeOrderedUuid } from '../persistence/time-ordered-id';
import { Logger, type BeforeApplicationShutdown, type OnApplicationShutdown } from '@nestjs/common';
import type { DataSource, Repository } from 'typeorm';
import { createBulkInsert, type BulkInsert } from '../persistence/bulk-insert';
import { fromMicroUsd } from '../persistence/column-types';
import { UsageLedgerEntity } from './usage-ledger.entity';
import { isPermanentWriteError, storableText } from '../persistence/storable';

/**
 * How a charge ended: `settled` (completed, or cut by its budget), `cancelled` (the client went away mid-stream;
 * what was sent is charged) or `failed` (the handler failed mid-stream; what was produced is charged).
 */
export type UsageLedgerStatus = 'settled' | 'cancelled' | 'failed';

/** One settled call, as recorded in the usage ledger. */
export interface UsageLedgerEntry {
  requestId?: string | null;
  principalId: string;
  apiKeyId?: string | null;
  tenantId?: string | null;
  operation?: string | null;
  model?: string | null;
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens?: number;
  costMicroUsd: number;
  /** Default `settled`. */
  status?: UsageLedgerStatus;
  /** Epoch ms (default: when recorded). */
  createdAt?: number;
}

export interface UsageAggregateQuery {
  groupBy: 'model' | 'principal' | 'day';
  /** Epoch ms or Date, inclusive. */
  since?: number | Date;
  /** Epoch ms or Date, exclusive. */
  until?: number | Date;
  tenantId?: string;
}

/** One group of an aggregate; `cost` in USD, `key` a model, a principal id or a UTC date (`2026-11-23`). */
export interface UsageAggregateRow {
  key: string;
  requests: number;
  inputTokens: number;
  outputTokens: number;
  cost: number;
}

export interface UsageLedgerOptions {
  /** Rows per insert (default 200). */
  batchSize?: number;
  /** Milliseconds between background flushes (default 200). */
  flushIntervalMs?: number;
  clock?: () => number;
}

const DAY = 86_400_000;
const COLUMNS: ReadonlyArray<keyof UsageLedgerEntity> = [
  'id',
  'requestId',
  'principalId',
  'apiKeyId',
  'tenantId',
  'operation',
  'model',
  'inputTokens',
  'outputTokens',
  'cachedInputTokens',
  'costMicroUsd',
  'status',
  'createdAt',
];
const toMs = (value: number | Date): number => (value instanceof Date ? value.getTime() : value);

/**
 * The usage ledger: every settled charge becomes a row. `record` only queues the row; batches are written off
 * the request path, and the queue is flushed before application shutdown (and once more at it), so a graceful
 * shutdown loses nothing.
 * A failed write keeps its rows queued for the next flush.
 */
export class UsageLedgerService implements BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger(UsageLedgerService.name);
  private readonly repository: Repository<UsageLedgerEntity>;
  private readonly batchSize: number;
  private readonly flushIntervalMs: number;
  private readonly clock: () => number;
  private readonly insert: BulkInsert<UsageLedgerEntity>;
  private queue: UsageLedgerEntity[] = [];
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly dataSource: DataSource,
    options: UsageLedgerOptions = {},
  ) {
    this.repository = dataSource.getRepository(UsageLedgerEntity);
    this.insert = createBulkInsert(dataSource, UsageLedgerEntity, COLUMNS);
    this.batchSize = options.batchSize ?? 200;
    this.flushIntervalMs = options.flushIntervalMs ?? 200;
    this.clock = options.clock ?? Date.now;
  }

  /** Queues one entry; it is written within `flushIntervalMs` (sooner when a batch fills up). */
  record(entry: UsageLedgerEntry): void {
    this.queue.push({
      // Time-ordered: appended at the end of the table's primary key index (see timeOrderedUuid).
      id: timeOrderedUuid(),
      requestId: storableOrNull(entry.requestId),
      principalId: storableText(entry.principalId),
      apiKeyId: storableOrNull(entry.apiKeyId),
      tenantId: storableOrNull(entry.tenantId),
      operation: storableOrNull(entry.operation),
      model: storableOrNull(entry.model),
      inputTokens: Math.max(0, Math.floor(entry.inputTokens)),
      outputTokens: Math.max(0, Math.floor(entry.outputTokens)),
      cachedInputTokens: Math.max(0, Math.floor(entry.cachedInputTokens ?? 0)),
      costMicroUsd: Math.max(0, Math.round(entry.costMicroUsd)),
      status: entry.status ?? 'settled',
      createdAt: entry.createdAt ?? this.clock(),
    });
    if (this.queue.length >= this.batchSize) void this.flush().catch(() => undefined);
    else this.schedule();
  }

  /** Number of entries waiting to be written. */
  get pending(): number {
    return this.queue.length;
  }

  /**
   * Writes every queued entry. Concurrent calls are serialised.
   * @throws the database error when a batch cannot be written (its entries stay queued).
   */
  flush(): Promise<void> {
    const run = this.flushing.then(() => this.drain());
    this.flushing = run.catch(() => undefined);
    return run;
  }

  /**
   * Writes what is queued while the database is still open (it may be closed by the time
   * `onApplicationShutdown` runs); what is settled later is written then.
   */
  async beforeApplicationShutdown(): Promise<void> {
    try {
      await this.flush();
    } catch (error) {
      this.logger.error(
        `Usage ledger: ${this.queue.length} entries could not be written before shutdown: ${String(error)}`,
      );
    }
  }

  async onApplicationShutdown(): Promise<void> {
    if (!this.queue.length) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    try {
      await this.flush();
    } catch (error) {
      this.logger.error(
        `Usage ledger: ${this.queue.length} entries could not be written at shutdown: ${String(error)}`,
      );
      throw error;
    }
  }

  /** Totals per model, principal or UTC day over `[since, until)`, optionally for one tenant. */
  async aggregate(query: UsageAggregateQuery): Promise<UsageAggregateRow[]> {
    const expression = {
      model: 'ledger.model',
      principal: 'ledger.principalId',
      day: `ledger.createdAt / ${DAY}`,
    }[query.groupBy];
    const builder = this.repository
      .createQueryBuilder('ledger')
      .select(expression, 'key')
      .addSelect('COUNT(*)', 'requests')
      .addSelect('SUM(ledger.inputTokens)', 'inputTokens')
      .addSelect('SUM(ledger.outputTokens)', 'outputTokens')
      .addSelect('SUM(ledger.costMicroUsd)', 'cost')
      .groupBy(expression)
      .orderBy(expression, 'ASC');
    if (query.since !== undefined) builder.andWhere('ledger.createdAt >= :since', { since: toMs(query.since) });
    if (query.until !== undefined) builder.andWhere('ledger.createdAt < :until', { until: toMs(query.until) });
    if (query.tenantId !== undefined) builder.andWhere('ledger.tenantId = :tenantId', { tenantId: query.tenantId });
    const rows = await builder.getRawMany<Record<string, unknown>>();
    return rows.map((row) => ({
      key:
        query.groupBy === 'day'
          ? new Date(Number(row.key) * DAY).toISOString().slice(0, 10)
          : row.key === null || row.key === undefined
            ? '(none)'
            : String(row.key as string | number),
      requests: Number(row.requests),
      inputTokens: Number(row.inputTokens ?? 0),
      outputTokens: Number(row.outputTokens ?? 0),
      cost: fromMicroUsd(Number(row.cost ?? 0)),
    }));
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.flush().catch((error: unknown) => {
        this.logger.error(`Usage ledger write failed, will retry: ${String(error)}`);
        this.schedule();
      });
    }, this.flushIntervalMs);
    this.timer.unref();
  }

  private async drain(): Promise<void> {
    while (this.queue.length) await this.writeFront(Math.min(this.batchSize, this.queue.length));
  }

  /**
   * Writes the first `count` queued entries. A batch the database refuses for good (see `isPermanentWriteError`) is
   * split until the refused entry is alone, which is logged and dropped so that it cannot hold up the entries after
   * it; any other failure leaves the batch queued for a retry.
   */
  private async writeFront(count: number): Promise<void> {
    try {
      await this.insert(this.queue.slice(0, count));
    } catch (error) {
      if (!isPermanentWriteError(error)) throw error;
      if (count > 1) {
        const half = Math.ceil(count / 2);
        await this.writeFront(half);
        await this.writeFront(count - half);
        return;
      }
      const [dropped] = this.queue.splice(0, 1);
      this.logger.error(
        `Usage ledger entry ${dropped.id} (principal charge of ${dropped.costMicroUsd} micro-USD) was refused by the database and dropped: ${String(error)}`,
      );
      return;
    }
    this.queue.splice(0, count);
  }
}

function storableOrNull(value: string | null | undefined): string | null {
  return value === null || value === undefined ? null : storableText(value);
}
