import { randomUUID } from 'node:crypto';
import {
  Inject,
  Injectable,
  Logger,
  Optional,
  type BeforeApplicationShutdown,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { AuditConfig } from '../policy-module-options.interface';
import { POLICY_CLOCK } from '../policy.constants';
import { AuditAnchorEntity } from './audit-anchor.entity';
import { AuditEventEntity } from './audit-event.entity';
import { anchorMac, resolveAnchorKey } from './audit.anchor';
import { AUDIT_CONFIG } from './audit.constants';
import { AuditWriter } from './audit.writer';

/** Default of `audit.anchorIntervalMs`. */
export const DEFAULT_AUDIT_ANCHOR_INTERVAL_MS = 5_000;

/**
 * Records this instance's chain head as a signed anchor (`policy_audit_anchors`) every `audit.anchorIntervalMs`
 * (default 5 s) when the chain has grown, and once more at shutdown after the writer's last flush. The MAC uses
 * `audit.anchorKey` (HMAC-SHA256; at least 32 bytes), which never leaves the server.
 * An anchor never moves backwards: when the stored head is older than the last anchor (rows were deleted), no new
 * anchor is recorded, so the deletion stays visible to verification.
 */
@Injectable()
export class AuditAnchorService implements OnModuleInit, OnModuleDestroy, BeforeApplicationShutdown {
  private readonly logger = new Logger('AuditAnchorService');
  /** The anchor key, or null (unkeyed SHA-256 anchors). */
  readonly key: Buffer | null;
  private readonly intervalMs: number;
  private timer: NodeJS.Timeout | null = null;
  private lastSeq = 0;
  private running: Promise<void> | null = null;

  /** @throws Error naming `audit.anchorKey` or `audit.anchorIntervalMs` when invalid. */
  constructor(
    @Inject(DataSource) private readonly dataSource: DataSource,
    private readonly writer: AuditWriter,
    @Optional() @Inject(AUDIT_CONFIG) config?: AuditConfig | null,
    @Optional() @Inject(POLICY_CLOCK) private readonly clock?: (() => number) | null,
  ) {
    this.key = resolveAnchorKey(config?.anchorKey);
    const interval = config?.anchorIntervalMs ?? DEFAULT_AUDIT_ANCHOR_INTERVAL_MS;
    if (!Number.isSafeInteger(interval) || interval < 1)
      throw new Error('audit.anchorIntervalMs must be a positive integer');
    this.intervalMs = interval;
  }

  onModuleInit(): void {
    if (!this.key)
      this.logger.warn('audit.anchorKey is not set: audit anchors are unkeyed hashes (set a key of at least 32 bytes)');
    this.timer = setInterval(
      () => void this.anchorNow().catch((err: Error) => this.logger.warn(`anchoring failed: ${err.message}`)),
      this.intervalMs,
    );
    this.timer.unref();
  }

  onModuleDestroy(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** After the writer's shutdown flush, anchors the final head while the connection is still open. */
  async beforeApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    try {
      await this.writer.flush();
      if (this.dataSource.isInitialized) await this.anchorNow();
    } catch (err) {
      this.logger.warn(`final anchor failed: ${(err as Error).message}`);
    }
  }

  /** Records the current head of this instance's chain when it has grown since the last anchor. */
  anchorNow(): Promise<void> {
    this.running ??= this.record().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async record(): Promise<void> {
    const chainId = this.writer.chainId;
    const head = await this.dataSource
      .getRepository(AuditEventEntity)
      .findOne({ select: { id: true, seq: true, hash: true }, where: { chainId }, order: { seq: 'DESC' } });
    if (!head || Number(head.seq) <= this.lastSeq) return;
    const fields = {
      chainId,
      seq: Number(head.seq),
      eventId: head.id,
      hash: head.hash,
      createdAt: (this.clock ?? Date.now)(),
    };
    await this.dataSource
      .getRepository(AuditAnchorEntity)
      .insert({ id: randomUUID(), ...fields, mac: anchorMac(this.key, fields) });
    this.lastSeq = fields.seq;
  }
}
