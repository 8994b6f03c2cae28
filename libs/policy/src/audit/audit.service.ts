import { randomUUID } from 'node:crypto';
import { timeOrderedUuid } from '../persistence/time-ordered-id';
import { Inject, Injectable, Optional } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { POLICY_CLOCK } from '../policy.constants';
import { ValidationFailedException } from '../policy.exceptions';
import { AuditEventEntity } from './audit-event.entity';
import {
  AUDIT_EVENT_TYPES,
  type AuditEventInput,
  type AuditEventView,
  type AuditVerification,
} from './audit-event.interface';
import { AUDIT_RECORD_COLUMNS, ChainVerifier, earlier, type AuditChainRecord } from './audit.chain';
import { decodeCursor, encodeCursor, pageLimit, timeBound } from './audit.cursor';
import { AuditWriter } from './audit.writer';
import { AuditAnchorEntity } from './audit-anchor.entity';
import { AuditAnchorService } from './audit-anchor.service';
import { anchorHolds } from './audit.anchor';

/** Filters of {@link AuditService.query}. `since` is inclusive, `until` exclusive. */
export interface AuditQuery {
  readonly type?: string;
  readonly principalId?: string;
  readonly tenantId?: string;
  readonly since?: number | string | Date;
  readonly until?: number | string | Date;
  /** 1 to 500, default 50. */
  readonly limit?: number | string;
  readonly cursor?: string;
}

/** A page of events, newest first. */
export interface AuditPage {
  readonly items: AuditEventView[];
  readonly nextCursor: string | null;
}

const DEFAULT_PAGE = 50;
const MAX_PAGE = 500;
const VERIFY_PAGE = 1_000;
const KNOWN_TYPES: ReadonlySet<string> = new Set(AUDIT_EVENT_TYPES);

/** Records, lists and verifies audit events. */
@Injectable()
export class AuditService {
  private readonly clock: () => number;

  constructor(
    private readonly writer: AuditWriter,
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Optional() @Inject(POLICY_CLOCK) clock?: (() => number) | null,
    @Optional() @Inject(AuditAnchorService) private readonly anchorService?: AuditAnchorService | null,
  ) {
    this.clock = clock ?? Date.now;
  }

  private get anchorKey(): Buffer | null {
    return this.anchorService?.key ?? null;
  }

  /**
   * Queues an event, filling in its id, time and request id (a new one when the caller has none), and the
   * principal's id and tenant when a principal is given. Resolves with the event id once queued.
   * @throws TypeError for an unknown event type.
   */
  async record(input: AuditEventInput): Promise<string> {
    // Time-ordered: appended at the end of the table's primary key index (see timeOrderedUuid).
    const id = input.id ?? timeOrderedUuid();
    await this.writer.record({
      id,
      type: input.type,
      outcome: input.outcome,
      principalId: input.principalId ?? input.principal?.id ?? null,
      tenantId: input.tenantId !== undefined ? input.tenantId : (input.principal?.tenantId ?? null),
      operation: input.operation ?? null,
      reasons: input.reasons ?? [],
      requestId: input.requestId ?? randomUUID(),
      ip: input.ip ?? null,
      details: input.details ?? null,
      createdAt: input.createdAt ?? this.clock(),
    });
    return id;
  }

  /**
   * Stored events matching the filters, newest first, `limit` at a time; pass `nextCursor` back for the next page.
   * Events still queued in the writer are not visible yet.
   * @throws ValidationFailedException for an unknown type, a bad time, limit or cursor.
   */
  async query(query: AuditQuery = {}): Promise<AuditPage> {
    const limit = pageLimit(query.limit, DEFAULT_PAGE, MAX_PAGE);
    const since = timeBound('since', query.since);
    const until = timeBound('until', query.until);
    if (query.type !== undefined && !KNOWN_TYPES.has(query.type)) {
      throw new ValidationFailedException('Invalid type', [`type must be one of ${AUDIT_EVENT_TYPES.join(', ')}`]);
    }
    const builder = this.dataSource.getRepository(AuditEventEntity).createQueryBuilder('e');
    if (query.type !== undefined) builder.andWhere('e.type = :type', { type: query.type });
    if (query.principalId !== undefined)
      builder.andWhere('e.principalId = :principalId', { principalId: query.principalId });
    if (query.tenantId !== undefined) builder.andWhere('e.tenantId = :tenantId', { tenantId: query.tenantId });
    if (since !== undefined) builder.andWhere('e.createdAt >= :since', { since });
    if (until !== undefined) builder.andWhere('e.createdAt < :until', { until });
    if (query.cursor !== undefined && query.cursor !== '') {
      const after = decodeCursor(query.cursor);
      builder.andWhere('(e.createdAt < :cursorTime OR (e.createdAt = :cursorTime AND e.id < :cursorId))', {
        cursorTime: after.createdAt,
        cursorId: after.id,
      });
    }
    const rows = await builder
      .orderBy('e.createdAt', 'DESC')
      .addOrderBy('e.id', 'DESC')
      .limit(limit + 1)
      .getMany();
    const items = rows.slice(0, limit);
    const last = items[items.length - 1];
    return {
      items: items.map(toView),
      nextCursor: rows.length > limit && last ? encodeCursor({ createdAt: last.createdAt, id: last.id }) : null,
    };
  }

  /**
   * Verifies the audit log: every chain's links, sequence numbers and hashes (streamed page by page), and each
   * chain against its latest signed anchor ({@link AuditAnchorService}), so that deleting the newest events or
   * recomputing a chain's tail is detected up to the last anchor.
   *
   * With `tenantId`, the answer covers that tenant's events only: `checked` counts its events that verified, and
   * `firstBrokenId` is its earliest event that is broken or lies after a break (another tenant's ids never appear;
   * a failed anchor reports `valid: false` with no id, as the missing rows' tenant is unknown).
   *
   * What it proves: every stored event up to the latest anchor of its chain is exactly as written, none of them is
   * missing, and none was inserted. What it does not prove: events written after the latest anchor (at most
   * `audit.anchorIntervalMs` old) can be deleted from the tail unnoticed; an attacker holding the anchor key (or,
   * without `audit.anchorKey`, write access to the anchors table) can rewrite everything; a whole chain whose events
   * and anchors are both deleted leaves no trace; events still queued in the writer are not covered.
   */
  async verify(options: { tenantId?: string; pageSize?: number } | number = {}): Promise<AuditVerification> {
    const { tenantId, pageSize = VERIFY_PAGE } = typeof options === 'number' ? { pageSize: options } : options;
    const heads: Array<{ chainId: string; firstAt: string | number }> = await this.dataSource
      .createQueryBuilder()
      .select('e.chainId', 'chainId')
      .addSelect('MIN(e.createdAt)', 'firstAt')
      .from(AuditEventEntity, 'e')
      .groupBy('e.chainId')
      .getRawMany();
    const chains = heads.sort((a, b) => Number(a.firstAt) - Number(b.firstAt));
    const anchors = await this.latestAnchors();
    let checked = 0;
    let firstBroken: AuditChainRecord | null = null;
    let anchorFailed = false;
    for (const { chainId } of chains) {
      const verifier = new ChainVerifier();
      const anchor = anchors.get(chainId);
      anchors.delete(chainId);
      let anchored: { id: string; hash: string } | null = null;
      let tenantChecked = 0;
      let afterSeq = 0;
      for (;;) {
        const page = await this.readChainPage(chainId, afterSeq, pageSize);
        for (const event of page) {
          if (!verifier.push(event)) break;
          if (tenantId === undefined || event.tenantId === tenantId) tenantChecked += 1;
          if (anchor && event.seq === Number(anchor.seq)) anchored = { id: event.id, hash: event.hash };
        }
        if (verifier.broken || page.length < pageSize) break;
        afterSeq = page[page.length - 1].seq;
      }
      checked += tenantId === undefined ? verifier.checked : tenantChecked;
      let broken = verifier.broken;
      if (broken && tenantId !== undefined && broken.tenantId !== tenantId)
        broken = await this.firstOfTenantFrom(chainId, broken.seq, tenantId);
      firstBroken = earlier(firstBroken, broken);
      if (anchor && !anchorHolds(this.anchorKey, anchor, { event: anchored, intactThrough: anchored !== null })) {
        anchorFailed = true;
        // The anchored event itself is the first thing missing or altered; tenants see only their own ids.
        if (!verifier.broken && tenantId === undefined)
          firstBroken = earlier(firstBroken, {
            id: anchor.eventId,
            createdAt: Number.MAX_SAFE_INTEGER,
          } as AuditChainRecord);
      }
    }
    // Anchors of chains that have no events left at all: the whole chain was deleted.
    for (const anchor of anchors.values()) {
      anchorFailed = true;
      if (tenantId === undefined)
        firstBroken = earlier(firstBroken, {
          id: anchor.eventId,
          createdAt: Number.MAX_SAFE_INTEGER,
        } as AuditChainRecord);
    }
    return { valid: firstBroken === null && !anchorFailed, checked, firstBrokenId: firstBroken?.id ?? null };
  }

  /** The latest anchor of every chain (none when the app's data source does not hold the anchors table). */
  private async latestAnchors(): Promise<Map<string, AuditAnchorEntity>> {
    const latest = new Map<string, AuditAnchorEntity>();
    if (!this.dataSource.hasMetadata(AuditAnchorEntity)) return latest;
    const repository = this.dataSource.getRepository(AuditAnchorEntity);
    const chains: Array<{ chainId: string }> = await repository
      .createQueryBuilder('a')
      .select('a.chainId', 'chainId')
      .distinct(true)
      .getRawMany();
    for (const { chainId } of chains) {
      const row = await repository.findOne({ where: { chainId }, order: { seq: 'DESC', createdAt: 'DESC' } });
      if (row) latest.set(chainId, row);
    }
    return latest;
  }

  /** The tenant's earliest event at or after `seq` in a chain: the first of its events a break leaves unverified. */
  private async firstOfTenantFrom(chainId: string, seq: number, tenantId: string): Promise<AuditChainRecord | null> {
    const row = await this.dataSource
      .getRepository(AuditEventEntity)
      .createQueryBuilder('e')
      .where('e.chainId = :chainId AND e.seq >= :seq AND e.tenantId = :tenantId', { chainId, seq, tenantId })
      .orderBy('e.seq', 'ASC')
      .getOne();
    return row ? ({ id: row.id, createdAt: Number(row.createdAt) } as AuditChainRecord) : null;
  }

  /** Reads stored columns verbatim (JSON as text), so that verification sees exactly what is in the table. */
  private async readChainPage(chainId: string, afterSeq: number, size: number): Promise<AuditChainRecord[]> {
    const builder = this.dataSource.createQueryBuilder().from(AuditEventEntity, 'e');
    AUDIT_RECORD_COLUMNS.forEach((column, index) =>
      index === 0 ? builder.select(`e.${column}`, column) : builder.addSelect(`e.${column}`, column),
    );
    const raw: Array<Record<string, unknown>> = await builder
      .where('e.chainId = :chainId AND e.seq > :afterSeq', { chainId, afterSeq })
      .orderBy('e.seq', 'ASC')
      .limit(size)
      .getRawMany();
    return raw.map((row) => ({
      id: String(row.id),
      chainId: String(row.chainId),
      seq: Number(row.seq),
      type: String(row.type),
      outcome: String(row.outcome),
      principalId: nullableText(row.principalId),
      tenantId: nullableText(row.tenantId),
      operation: nullableText(row.operation),
      reasons: String(row.reasons),
      requestId: nullableText(row.requestId),
      ip: nullableText(row.ip),
      details: nullableText(row.details),
      createdAt: Number(row.createdAt),
      prevHash: String(row.prevHash),
      hash: String(row.hash),
    }));
  }
}

function nullableText(value: unknown): string | null {
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- a column value: text or a number, as the driver answers it
  return value === null || value === undefined ? null : String(value);
}

function toView(entity: AuditEventEntity): AuditEventView {
  return {
    id: entity.id,
    chainId: entity.chainId,
    seq: entity.seq,
    type: entity.type,
    outcome: entity.outcome,
    principalId: entity.principalId,
    tenantId: entity.tenantId,
    operation: entity.operation,
    reasons: entity.reasons ?? [],
    requestId: entity.requestId,
    ip: entity.ip,
    details: entity.details ?? null,
    createdAt: new Date(entity.createdAt).toISOString(),
    prevHash: entity.prevHash,
    hash: entity.hash,
  };
}
