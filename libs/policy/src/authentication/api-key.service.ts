import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import type { AuditOrigin } from '../audit/audit-event.interface';
import { AuditService } from '../audit/audit.service';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { DataSource, IsNull } from 'typeorm';
import { POLICY_CLOCK } from '../policy.constants';
import { ApiKeyEntity } from './api-key.entity';
import type { Principal } from './principal.interface';

/** What a caller may set on a new key. */
export interface CreateApiKeyInput {
  name: string;
  roles: string[];
  scopes: string[];
  tenantId: string | null;
  tier: string | null;
  expiresAt: number | null;
  createdBy: string;
}

/** An API key as shown to its owners: never the secret, never its hash. */
export interface ApiKeyView {
  id: string;
  name: string;
  roles: string[];
  scopes: string[];
  tenantId: string | null;
  tier: string | null;
  createdBy: string;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

const KEY_FORMAT = /^apk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
const CACHE_MS = 1000;
const LAST_USED_EVERY_MS = 60_000;

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
const sha256 = (value: string): Buffer => createHash('sha256').update(value).digest();

/**
 * Issues and verifies API keys (`apk_<id>_<secret>`). The secret is 256 random bits; only its SHA-256 is stored
 * (a slow hash adds nothing against a secret of that entropy) and it is compared in constant time. Verified records
 * are cached for one second, so a key deleted on another instance is refused within a second; on this instance at once.
 */
@Injectable()
export class ApiKeyService {
  private readonly logger = new Logger('ApiKeyService');
  private readonly cache = new Map<string, { entity: ApiKeyEntity | null; at: number }>();

  constructor(
    private readonly dataSource: DataSource,
    @Inject(POLICY_CLOCK) private readonly now: () => number,
    @Optional() @Inject(AuditService) private readonly audit: AuditService | null = null,
  ) {}

  /** Creates a key. The returned `key` is the only time the full key exists outside the caller. */
  async create(input: CreateApiKeyInput, origin: AuditOrigin = {}): Promise<{ key: string; apiKey: ApiKeyView }> {
    const id = randomBytes(8).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    const entity = this.dataSource.getRepository(ApiKeyEntity).create({
      id,
      name: input.name,
      secretHash: sha256(secret).toString('hex'),
      roles: input.roles,
      scopes: input.scopes,
      tenantId: input.tenantId,
      tier: input.tier,
      createdBy: input.createdBy,
      createdAt: this.now(),
      expiresAt: input.expiresAt,
      revokedAt: null,
      lastUsedAt: null,
    });
    await this.dataSource.getRepository(ApiKeyEntity).insert(entity);
    await this.audit?.record({
      type: 'api_key.created',
      outcome: 'SUCCESS',
      principalId: input.createdBy,
      tenantId: input.tenantId,
      operation: 'api-key.create',
      reasons: [`API key ${id} created`],
      requestId: origin.requestId,
      ip: origin.ip,
      details: { apiKeyId: id, name: input.name, roles: input.roles, scopes: input.scopes },
    });
    return { key: `apk_${id}_${secret}`, apiKey: this.view(entity) };
  }

  /** Keys visible to a tenant (all keys when `tenantId` is undefined), newest first. */
  async list(tenantId: string | undefined): Promise<ApiKeyView[]> {
    const rows = await this.dataSource.getRepository(ApiKeyEntity).find({
      where: tenantId === undefined ? {} : { tenantId },
      order: { createdAt: 'DESC' },
    });
    return rows.map((row) => this.view(row));
  }

  /** Revokes a key. Answers false when it does not exist, is outside the tenant, or is already revoked. */
  async revoke(id: string, tenantId: string | undefined, revokedBy: string | null = null, origin: AuditOrigin = {}): Promise<boolean> {
    const repository = this.dataSource.getRepository(ApiKeyEntity);
    const where = tenantId === undefined ? { id, revokedAt: IsNull() } : { id, tenantId, revokedAt: IsNull() };
    const key = await repository.findOne({ where, select: { id: true, tenantId: true } });
    if (!key) return false;
    const result = await repository.update(where, { revokedAt: this.now() });
    this.cache.delete(id);
    const revoked = (result.affected ?? 0) > 0;
    if (revoked) {
      await this.audit?.record({
        type: 'api_key.revoked',
        outcome: 'SUCCESS',
        principalId: revokedBy,
        // The key's own tenant, so that tenant's auditors see its keys' whole life.
        tenantId: key.tenantId,
        operation: 'api-key.delete',
        reasons: [`API key ${id} revoked`],
        requestId: origin.requestId,
        ip: origin.ip,
        details: { apiKeyId: id },
      });
    }
    return revoked;
  }

  /** Verifies a presented key; answers the principal, or the reason it is refused. */
  async verify(presented: string): Promise<Principal | string> {
    const match = KEY_FORMAT.exec(presented);
    if (!match) return 'malformed API key';
    const [, id, secret] = match;
    const entity = await this.find(id);
    // Hash and compare even when the id is unknown, so timing does not reveal which ids exist.
    const expected = entity ? Buffer.from(entity.secretHash, 'hex') : Buffer.alloc(32);
    const equal = timingSafeEqual(sha256(secret), expected);
    if (!entity || !equal) return 'unknown API key';
    const now = this.now();
    if (entity.revokedAt !== null) return 'API key revoked';
    if (entity.expiresAt !== null && entity.expiresAt <= now) return 'API key expired';
    if (entity.lastUsedAt === null || now - entity.lastUsedAt >= LAST_USED_EVERY_MS) this.touch(entity, now);
    return Object.freeze({
      id: `apikey:${entity.id}`,
      type: 'api-key',
      tenantId: entity.tenantId,
      roles: Object.freeze([...entity.roles]),
      scopes: Object.freeze([...entity.scopes]),
      tier: entity.tier,
      tokenId: entity.id,
      apiKeyId: entity.id,
    } satisfies Principal);
  }

  private async find(id: string): Promise<ApiKeyEntity | null> {
    const cached = this.cache.get(id);
    const now = this.now();
    if (cached && now - cached.at < CACHE_MS) return cached.entity;
    const entity = await this.dataSource.getRepository(ApiKeyEntity).findOne({ where: { id } });
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(id, { entity, at: now });
    return entity;
  }

  /** Records the last use, at most once a minute per key, off the request path. */
  private touch(entity: ApiKeyEntity, now: number): void {
    entity.lastUsedAt = now;
    this.dataSource
      .getRepository(ApiKeyEntity)
      .update({ id: entity.id }, { lastUsedAt: now })
      .catch((err: Error) => this.logger.warn(`last-used update failed: ${err.message}`));
  }

  private view(e: ApiKeyEntity): ApiKeyView {
    return {
      id: e.id,
      name: e.name,
      roles: e.roles,
      scopes: e.scopes,
      tenantId: e.tenantId,
      tier: e.tier,
      createdBy: e.createdBy,
      createdAt: iso(e.createdAt) as string,
      expiresAt: iso(e.expiresAt),
      revokedAt: iso(e.revokedAt),
      lastUsedAt: iso(e.lastUsedAt),
    };
  }
}
