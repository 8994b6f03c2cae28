import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Optional } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { POLICY_CLOCK } from '../policy.constants';
import { ValidationFailedException } from '../policy.exceptions';
import { AuditEventEntity } from './audit-event.entity';
import { AUDIT_EVENT_TYPES, type AuditEventInput, type AuditEventView, type AuditVerification } from './audit-event.interface';
import { ChainVerifier, earlier, type AuditChainRecord } from './audit.chain';
import { decodeCursor, encodeCursor, pageLimit, timeBound } from './audit.cursor';
import { AuditWriter } from './audit.writer';

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
  ) {
    this.clock = clock ?? Date.now;
  }

  /**
   * Queues an event, filling in its id, time and request id (a new one when the caller has none), and the
   * principal's id and tenant when a principal is given. Resolves with the event id once queued.
   * @throws TypeError for an unknown event type.
   */
  async record(input: AuditEventInput): Promise<string> {
    const id = input.id ?? randomUUID();
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
    if (query.principalId !== undefined) builder.andWhere('e.principalId = :principalId', { principalId: query.principalId });
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
    const rows = await builder.orderBy('e.createdAt', 'DESC').addOrderBy('e.id', 'DESC').limit(limit + 1).getMany();
    const items = rows.slice(0, limit);
    const last = items[items.length - 1];
    return {
      items: items.map(toView),
      nextCursor: rows.length > limit && last ? encodeCursor({ createdAt: last.createdAt, id: last.id }) : null,
    };
  }

  /**
   * Verifies every chain: links, sequence numbers and hashes, streaming each chain page by page.
   * `firstBrokenId` is the earliest-created broken event across chains.
   */
  async verify(pageSize = VERIFY_PAGE): Promise<AuditVerification> {
    const heads: Array<{ chainId: string; firstAt: string | number }> = await this.dataSource
      .createQueryBuilder()
      .select('e.chainId', 'chainId')
      .addSelect('MIN(e.createdAt)', 'firstAt')
      .from(AuditEventEntity, 'e')
      .groupBy('e.chainId')
      .getRawMany();
    const chains = heads.sort((a, b) => Number(a.firstAt) - Number(b.firstAt));
    let checked = 0;
    let firstBroken: AuditChainRecord | null = null;
    for (const { chainId } of chains) {
      const verifier = new ChainVerifier();
      let afterSeq = 0;
      for (;;) {
        const page = await this.readChainPage(chainId, afterSeq, pageSize);
        for (const event of page) if (!verifier.push(event)) break;
        if (verifier.broken || page.length < pageSize) break;
        afterSeq = page[page.length - 1]!.seq;
      }
      checked += verifier.checked;
      firstBroken = earlier(firstBroken, verifier.broken);
    }
    return { valid: firstBroken === null, checked, firstBrokenId: firstBroken?.id ?? null };
  }

  /** Reads stored columns verbatim (JSON as text), so that verification sees exactly what is in the table. */
  private async readChainPage(chainId: string, afterSeq: number, size: number): Promise<AuditChainRecord[]> {
    const columns = ['id', 'chainId', 'seq', 'type', 'outcome', 'principalId', 'tenantId', 'operation', 'reasons', 'requestId', 'ip', 'details', 'createdAt', 'prevHash', 'hash'];
    const builder = this.dataSource.createQueryBuilder().from(AuditEventEntity, 'e');
    columns.forEach((column, index) => (index === 0 ? builder.select(`e.${column}`, column) : builder.addSelect(`e.${column}`, column)));
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
