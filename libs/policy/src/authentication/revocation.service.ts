import { Inject, Injectable, Logger, Optional, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { AuditOrigin } from '../audit/audit-event.interface';
import { AuditService } from '../audit/audit.service';
import { DataSource, MoreThanOrEqual } from 'typeorm';
import { POLICY_CLOCK, POLICY_MODULE_OPTIONS, POLICY_REDIS } from '../policy.constants';
import type { PolicyModuleOptions } from '../policy-module-options.interface';
import { duplicateForSubscribe, type PolicyRedisClient } from '../common/redis-client.factory';
import { DEFAULT_JWT_IAT_LEEWAY, DEFAULT_JWT_MAX_LIFETIME } from './jwt-options';
import { RevokedTokenEntity } from './revoked-token.entity';

const CHANNEL = 'nap:revocations';

/**
 * The list of revoked JWT ids, persisted in the database. Each instance keeps the list in memory and checks it on
 * every request. A revocation reaches every instance through Redis pub/sub at once when Redis is configured, and
 * otherwise by polling the table: once the in-memory copy is `refreshMs` (1 s) old, the next check starts a re-read
 * and answers from the copy it has, so no request waits for the poll. Only a copy older than `maxStaleMs` (3 s:
 * the table could not be read for that long) makes a check wait for a fresh read, and deny when that read fails.
 */
@Injectable()
export class RevocationService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('RevocationService');
  private readonly revoked = new Map<string, number | null>();
  private lastRefresh = 0;
  private highWater = 0;
  private refreshing: Promise<void> | null = null;
  private subscriber: PolicyRedisClient | null = null;
  readonly refreshMs = 1000;
  /** The oldest copy a check may answer from; past it the check waits for the table and fails closed. */
  readonly maxStaleMs = 3000;
  /** How long any token revoked now may still be presented: its longest allowed lifetime plus the clock leeways. */
  private readonly minimumKeepMs: number;

  constructor(
    private readonly dataSource: DataSource,
    @Inject(POLICY_REDIS) private readonly redis: PolicyRedisClient | null,
    @Inject(POLICY_CLOCK) private readonly now: () => number,
    @Optional() @Inject(AuditService) private readonly audit: AuditService | null = null,
    @Optional() @Inject(POLICY_MODULE_OPTIONS) options: PolicyModuleOptions | null = null,
  ) {
    const jwt = options?.jwt;
    this.minimumKeepMs =
      ((jwt?.maxLifetime ?? DEFAULT_JWT_MAX_LIFETIME) +
        (jwt?.iatLeeway ?? DEFAULT_JWT_IAT_LEEWAY) +
        (jwt?.clockTolerance ?? 0)) *
      1000;
  }

  /**
   * When a revocation made at `now` may be forgotten: never before every token it could match has expired. A token
   * may claim to live at most `jwt.maxLifetime` seconds (plus the `iat` and clock leeways), so a given `expiresAt`
   * earlier than that — in the past, or missing — is clamped up to it; a later one is kept as given.
   * @example
   * keepUntil(Date.parse('2000-01-01'), now); // now + 24 h + leeways with the default maxLifetime
   */
  keepUntil(expiresAt: number | null, now: number): number {
    const floor = now + this.minimumKeepMs;
    return expiresAt === null || !Number.isFinite(expiresAt) || expiresAt < floor ? floor : expiresAt;
  }

  async onModuleInit(): Promise<void> {
    if (this.redis) {
      // On a cluster, PUBLISH reaches the subscribers of every node, and the subscriber moves to another node when
      // its own goes away; the table poll covers the gap either way.
      this.subscriber = duplicateForSubscribe(this.redis);
      this.subscriber.on('error', (err: Error) => this.logger.warn(`revocation channel: ${err.message}`));
      this.subscriber.on('message', (_channel: string, jti: string) => this.revoked.set(jti, null));
      await this.subscriber
        .subscribe(CHANNEL)
        .catch((err: Error) => this.logger.warn(`subscribe failed: ${err.message}`));
    }
  }

  async onModuleDestroy(): Promise<void> {
    this.subscriber?.disconnect();
  }

  /**
   * Revokes a token id; from now on it is refused on every instance. Idempotent. The entry is kept until
   * {@link keepUntil}: a past or too-early `expiresAt` never shortens a revocation below the token's own lifetime.
   */
  async revoke(
    jti: string,
    requestedExpiresAt: number | null,
    revokedBy: string | null,
    origin: AuditOrigin = {},
  ): Promise<void> {
    // The table is polled by `revoked_at` from the newest row an instance has seen (minus an overlap), and each
    // instance stamps rows with its own clock: a row stamped by a clock behind the others' would fall below every
    // other instance's watermark and never reach them. So the stamp is never older than the newest row this instance
    // knows of, read just now.
    await this.refresh().catch(this.onBackgroundFailure);
    const now = this.now();
    const revokedAt = Math.max(now, this.highWater);
    const expiresAt = this.keepUntil(requestedExpiresAt, now);
    await this.dataSource
      .createQueryBuilder()
      .insert()
      .into(RevokedTokenEntity)
      .values({ jti, revokedAt, expiresAt, revokedBy })
      .orIgnore()
      .execute();
    this.revoked.set(jti, expiresAt);
    if (this.redis) await this.redis.publish(CHANNEL, jti).catch(() => undefined);
    await this.audit?.record({
      type: 'token.revoked',
      outcome: 'SUCCESS',
      principalId: revokedBy,
      operation: 'token.revoke',
      reasons: ['token revoked'],
      requestId: origin.requestId,
      ip: origin.ip,
      details: { jti },
    });
  }

  /**
   * True when the token id has been revoked. Answers from the in-memory copy, starting a re-read in the background
   * once it is `refreshMs` old; waits for the table only when the copy is older than `maxStaleMs` (or was never
   * read), and throws when that read fails (the caller denies).
   */
  async isRevoked(jti: string): Promise<boolean> {
    const known = this.revokedNow(jti);
    if (known !== undefined) return known;
    await this.refresh();
    return this.revoked.has(jti);
  }

  /**
   * {@link isRevoked} without a promise while the in-memory copy is younger than `maxStaleMs` (a re-read starts in the
   * background past `refreshMs`); undefined when the answer needs the table read first.
   */
  revokedNow(jti: string): boolean | undefined {
    const age = this.now() - this.lastRefresh;
    if (age >= this.maxStaleMs) return undefined;
    if (age >= this.refreshMs) void this.refresh().catch(this.onBackgroundFailure);
    return this.revoked.has(jti);
  }

  private lastWarning = -Infinity;
  private readonly onBackgroundFailure = (err: Error): void => {
    const now = this.now();
    if (now - this.lastWarning < this.refreshMs) return;
    this.lastWarning = now;
    this.logger.warn(`revocation list not refreshed: ${err.message}`);
  };

  private refresh(): Promise<void> {
    if (!this.refreshing) {
      this.refreshing = this.load().finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  private async load(): Promise<void> {
    const startedAt = this.now();
    // Re-read a small overlap so a row committed late by another instance is not missed.
    const rows = await this.dataSource
      .getRepository(RevokedTokenEntity)
      .find({ where: { revokedAt: MoreThanOrEqual(Math.max(0, this.highWater - 5000)) } });
    for (const row of rows) {
      this.revoked.set(row.jti, row.expiresAt);
      this.highWater = Math.max(this.highWater, row.revokedAt);
    }
    for (const [jti, expiresAt] of this.revoked) {
      if (expiresAt !== null && expiresAt < startedAt - 60_000) this.revoked.delete(jti);
    }
    this.lastRefresh = startedAt;
  }
}
