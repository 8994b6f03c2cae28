import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Optional } from '@nestjs/common';
import { Brackets, DataSource } from 'typeorm';
import { ApiKeyEntity } from '../authentication/api-key.entity';
import { personOf, type Principal } from '../authentication/principal.interface';
import type { CompiledPolicy } from '../authorization/compiled-policy';
import type { AuditOrigin } from '../audit/audit-event.interface';
import { AuditService } from '../audit/audit.service';
import { decodeCursor, encodeCursor, pageLimit } from '../audit/audit.cursor';
import { COMPILED_POLICY, POLICY_CLOCK } from '../policy.constants';
import {
  PolicyForbiddenException,
  PolicyNotFoundException,
  RateLimitedException,
  ValidationFailedException,
} from '../policy.exceptions';
import { ApprovalEntity, type ApprovalStatus } from './approval.entity';
import { ApprovalStore, type ApprovalView, type CreateApprovalInput } from './approval.store';
import { requestDigest, type ApprovalRequestShape } from './request-digest';

/** Seconds-based default of `approvals.ttl`, in milliseconds. */
export const DEFAULT_APPROVAL_TTL_MS = 900_000;
/** Default of `approvals.maxPendingPerPrincipal`. */
export const DEFAULT_MAX_PENDING_APPROVALS = 20;
const STATUSES: ReadonlySet<string> = new Set<ApprovalStatus>(['pending', 'approved', 'denied', 'consumed', 'expired']);

export interface ApprovalListQuery {
  /** Only this tenant's approvals (a tenant-bound caller should always pass its own). */
  readonly tenantId?: string | null;
  readonly status?: ApprovalStatus;
  /** 1 to 500, default 50. */
  readonly limit?: number | string;
  readonly cursor?: string;
}

/**
 * Human approvals of individual calls. An approval is bound to one principal, one operation and one exact request
 * (its digest), is decided once by someone else, and can be consumed once before it expires.
 */
@Injectable()
export class ApprovalService extends ApprovalStore {
  private readonly clock: () => number;
  private readonly maxPending: number;
  /** Creations in progress per principal on this instance, so the pending cap is counted one at a time. */
  private readonly creating = new Map<string, Promise<unknown>>();

  constructor(
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Optional() @Inject(POLICY_CLOCK) clock?: (() => number) | null,
    @Optional() @Inject(AuditService) private readonly audit?: AuditService | null,
    @Optional() @Inject(COMPILED_POLICY) policy?: CompiledPolicy | null,
  ) {
    super();
    this.clock = clock ?? Date.now;
    this.maxPending = policy?.document.approvals?.maxPendingPerPrincipal ?? DEFAULT_MAX_PENDING_APPROVALS;
  }

  /** The digest an approval is bound to: {@link requestDigest}. */
  requestDigest(request: ApprovalRequestShape): string {
    return requestDigest(request);
  }

  /**
   * Creates a pending approval and records `approval.requested`. Asking again for a request that already waits
   * (same principal, tenant, operation and digest) answers that pending approval instead of a new one, and a
   * principal has at most `approvals.maxPendingPerPrincipal` (default 20) approvals pending at once. Creations of one
   * principal are counted one at a time on each instance; N instances racing can overshoot by at most N - 1.
   * @throws ValidationFailedException for bad input.
   * @throws RateLimitedException (429) when the principal already has the maximum pending, with the seconds until
   * the oldest of them lapses.
   */
  async create(input: CreateApprovalInput): Promise<ApprovalView> {
    const ttlMs = input.ttlMs ?? DEFAULT_APPROVAL_TTL_MS;
    if (!Number.isSafeInteger(ttlMs) || ttlMs < 1)
      throw new ValidationFailedException('Invalid approval ttl', ['ttlMs must be a positive integer']);
    if (!input.operation) throw new ValidationFailedException('Invalid approval', ['operation is required']);
    if (!/^[0-9a-f]{64}$/.test(input.digest))
      throw new ValidationFailedException('Invalid approval', ['digest must be a SHA-256 hex digest']);
    const lane = `${input.principal.tenantId ?? ''}\u0000${input.principal.id}`;
    const previous = this.creating.get(lane) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(() => this.createInLane(input, ttlMs));
    this.creating.set(lane, run);
    try {
      return await run;
    } finally {
      if (this.creating.get(lane) === run) this.creating.delete(lane);
    }
  }

  private async createInLane(input: CreateApprovalInput, ttlMs: number): Promise<ApprovalView> {
    const now = this.clock();
    const mine = this.repository
      .createQueryBuilder('a')
      .where("a.principalId = :principalId AND a.status = 'pending' AND a.expiresAt > :now", {
        principalId: input.principal.id,
        now,
      });
    if (input.principal.tenantId) mine.andWhere('a.tenantId = :tenantId', { tenantId: input.principal.tenantId });
    else mine.andWhere('a.tenantId IS NULL');
    const same = await mine
      .clone()
      .andWhere('a.operation = :operation AND a.requestDigest = :digest', {
        operation: input.operation,
        digest: input.digest,
      })
      .orderBy('a.createdAt', 'DESC')
      .getOne();
    if (same) return this.toView(same, now);
    const pending = await mine.clone().orderBy('a.expiresAt', 'ASC').limit(this.maxPending).getMany();
    if (pending.length >= this.maxPending) {
      const retryAfter = Math.max(1, Math.ceil((pending[0].expiresAt - now) / 1000));
      throw new RateLimitedException(
        retryAfter,
        `Too many pending approvals (at most ${this.maxPending}); wait for a decision`,
      );
    }
    const entity: ApprovalEntity = Object.assign(new ApprovalEntity(), {
      id: randomUUID(),
      principalId: input.principal.id,
      tenantId: input.principal.tenantId ?? null,
      operation: input.operation,
      requestDigest: input.digest,
      reason: input.reason ?? null,
      status: 'pending' as const,
      decidedBy: null,
      decidedAt: null,
      expiresAt: now + ttlMs,
      createdAt: now,
      consumedAt: null,
    });
    await this.repository.insert(entity);
    await this.audit?.record({
      type: 'approval.requested',
      outcome: 'REQUIRE_APPROVAL',
      principal: input.principal,
      operation: input.operation,
      reasons: input.reason ? [input.reason] : [],
      requestId: input.origin?.requestId,
      ip: input.origin?.ip,
      details: { approvalId: entity.id, expiresAt: entity.expiresAt },
    });
    return this.toView(entity, now);
  }

  /** Approvals, newest first, `limit` at a time. @throws ValidationFailedException for a bad status, limit or cursor. */
  async list(query: ApprovalListQuery = {}): Promise<{ items: ApprovalView[]; nextCursor: string | null }> {
    const limit = pageLimit(query.limit, 50, 500);
    const now = this.clock();
    const builder = this.repository.createQueryBuilder('a');
    if (typeof query.tenantId === 'string') builder.andWhere('a.tenantId = :tenantId', { tenantId: query.tenantId });
    if (query.status !== undefined) {
      if (!STATUSES.has(query.status))
        throw new ValidationFailedException('Invalid status', [`status must be one of ${[...STATUSES].join(', ')}`]);
      if (query.status === 'expired') {
        builder.andWhere("(a.status = 'expired' OR (a.status IN ('pending', 'approved') AND a.expiresAt <= :now))", {
          now,
        });
      } else if (query.status === 'pending' || query.status === 'approved') {
        builder.andWhere('a.status = :status AND a.expiresAt > :now', { status: query.status, now });
      } else {
        builder.andWhere('a.status = :status', { status: query.status });
      }
    }
    if (query.cursor) {
      const after = decodeCursor(query.cursor);
      builder.andWhere(
        new Brackets((where) =>
          where
            .where('a.createdAt < :cursorTime', { cursorTime: after.createdAt })
            .orWhere('a.createdAt = :cursorTime AND a.id < :cursorId', { cursorId: after.id }),
        ),
      );
    }
    const rows = await builder
      .orderBy('a.createdAt', 'DESC')
      .addOrderBy('a.id', 'DESC')
      .limit(limit + 1)
      .getMany();
    const items = rows.slice(0, limit);
    const last = items[items.length - 1];
    return {
      items: items.map((row) => this.toView(row, now)),
      nextCursor: rows.length > limit && last ? encodeCursor({ createdAt: last.createdAt, id: last.id }) : null,
    };
  }

  /**
   * Approves or denies a pending, unexpired approval and records `approval.decided`.
   * @throws PolicyNotFoundException when it does not exist or belongs to another tenant than the decider's
   * (a decider without a tenant sees every tenant).
   * @throws PolicyForbiddenException when the person behind the decider requested it (directly, or through an API key
   * that person created: keys are compared by their creator), or it is no longer pending, or it has expired.
   */
  async decide(
    id: string,
    decider: Principal,
    decision: 'approve' | 'deny',
    origin: AuditOrigin = {},
  ): Promise<ApprovalView> {
    if (decision !== 'approve' && decision !== 'deny')
      throw new ValidationFailedException('Invalid decision', ['decision must be approve or deny']);
    const existing = await this.repository.findOneBy({ id });
    if (
      !existing ||
      (decider.tenantId !== null && decider.tenantId !== undefined && existing.tenantId !== decider.tenantId)
    ) {
      throw new PolicyNotFoundException('Approval not found');
    }
    const requester = await this.personBehind(existing.principalId);
    // A request that cannot be traced to a person could be the decider's own: refusing is the safe answer.
    if (existing.principalId === decider.id || requester === null || requester === personOf(decider)) {
      throw new PolicyForbiddenException('An approval cannot be decided by the person that requested it');
    }
    const now = this.clock();
    const status: ApprovalStatus = decision === 'approve' ? 'approved' : 'denied';
    const result = await this.repository
      .createQueryBuilder()
      .update(ApprovalEntity)
      .set({ status, decidedBy: decider.id, decidedAt: now })
      .where("id = :id AND status = 'pending' AND expires_at > :now", { id, now })
      .execute();
    if (result.affected !== 1) {
      const current = (await this.repository.findOneBy({ id })) ?? existing;
      if (current.status === 'pending') {
        await this.repository.update({ id, status: 'pending' }, { status: 'expired' });
        throw new PolicyForbiddenException('The approval has expired');
      }
      throw new PolicyForbiddenException(`The approval is already ${this.toView(current, now).status}`);
    }
    await this.audit?.record({
      type: 'approval.decided',
      outcome: status === 'approved' ? 'ALLOW' : 'DENY',
      principal: decider,
      tenantId: existing.tenantId,
      operation: existing.operation,
      reasons: [`${status} by ${decider.id}`],
      requestId: origin.requestId,
      ip: origin.ip,
      details: { approvalId: id, decision: status, requestedBy: existing.principalId },
    });
    return this.toView({ ...existing, status, decidedBy: decider.id, decidedAt: now }, now);
  }

  /**
   * Uses an approval for the call it was granted for. True exactly once: only for the same principal (and tenant),
   * operation and request digest, only once approved, never after expiry. One conditional UPDATE decides, so two
   * concurrent callers can never both succeed.
   */
  async consume(id: string, principal: Principal, operation: string, digest: string): Promise<boolean> {
    const now = this.clock();
    const builder = this.repository
      .createQueryBuilder()
      .update(ApprovalEntity)
      .set({ status: 'consumed', consumedAt: now })
      .where("id = :id AND status = 'approved' AND principal_id = :principalId", { id, principalId: principal.id })
      .andWhere('operation = :operation AND request_digest = :digest AND expires_at > :now', {
        operation,
        digest,
        now,
      });
    if (principal.tenantId === null || principal.tenantId === undefined) builder.andWhere('tenant_id IS NULL');
    else builder.andWhere('tenant_id = :tenantId', { tenantId: principal.tenantId });
    const result = await builder.execute();
    return result.affected === 1;
  }

  /** Gives back an approval spent by a call refused before it ran: approved again, while its deadline has not passed. */
  override async restore(id: string, principal: Principal): Promise<boolean> {
    const result = await this.repository
      .createQueryBuilder()
      .update(ApprovalEntity)
      .set({ status: 'approved', consumedAt: null })
      .where("id = :id AND status = 'consumed' AND principal_id = :principalId AND expires_at > :now", {
        id,
        principalId: principal.id,
        now: this.clock(),
      })
      .execute();
    return result.affected === 1;
  }

  /** The stored status of an approval (`expired` once its deadline passed undecided or unspent), or null. */
  override async status(id: string): Promise<ApprovalStatus | null> {
    const row = await this.repository.findOneBy({ id });
    if (!row) return null;
    const open = row.status === 'pending' || row.status === 'approved';
    return open && Number(row.expiresAt) <= this.clock() ? 'expired' : row.status;
  }

  /** The person behind a requesting principal id: an API key's creator, anyone else's own id; null when unknown. */
  private async personBehind(principalId: string): Promise<string | null> {
    const match = /^apikey:([0-9a-f]{16})$/.exec(principalId);
    if (!match) return principalId;
    const key = await this.dataSource
      .getRepository(ApiKeyEntity)
      .findOne({ where: { id: match[1] }, select: { id: true, createdBy: true } });
    return key?.createdBy ?? null;
  }

  private get repository() {
    return this.dataSource.getRepository(ApprovalEntity);
  }

  private toView(entity: ApprovalEntity, now: number): ApprovalView {
    const lapsed = (entity.status === 'pending' || entity.status === 'approved') && entity.expiresAt <= now;
    const iso = (time: number | null) => (time === null || time === undefined ? null : new Date(time).toISOString());
    return {
      id: entity.id,
      principalId: entity.principalId,
      tenantId: entity.tenantId,
      operation: entity.operation,
      requestDigest: entity.requestDigest,
      reason: entity.reason,
      status: lapsed ? 'expired' : entity.status,
      decidedBy: entity.decidedBy,
      decidedAt: iso(entity.decidedAt),
      expiresAt: new Date(entity.expiresAt).toISOString(),
      createdAt: new Date(entity.createdAt).toISOString(),
      consumedAt: iso(entity.consumedAt),
    };
  }
}
