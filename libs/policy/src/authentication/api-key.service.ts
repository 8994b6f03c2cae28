import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import type { AuditOrigin } from '../audit/audit-event.interface';
import { AuditService } from '../audit/audit.service';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { DataSource, IsNull, MoreThan } from 'typeorm';
import type { CompiledPolicy } from '../authorization/compiled-policy';
import { COMPILED_POLICY, POLICY_CLOCK } from '../policy.constants';
import { PolicyForbiddenException, ValidationFailedException } from '../policy.exceptions';
import { ApiKeyEntity } from './api-key.entity';
import { checkApiKeyGrant } from './api-key.grant';
import { DEFAULT_API_KEY_CONFIG, resolveApiKeyConfig, type ResolvedApiKeyConfig } from './api-key.options';
import { personOf, type Principal } from './principal.interface';

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

/** What a creator asks for in {@link ApiKeyService.issue}. */
export interface IssueApiKeyInput {
  name: string;
  roles: string[];
  scopes: string[];
  /** Only a creator without a tenant may name one; a creator with a tenant always mints for its own. */
  tenantId?: string | null;
  tier?: string | null;
  /** Epoch ms; default now + `apiKeys.defaultTtl`, never past now + `apiKeys.maxTtl`. */
  expiresAt?: number | null;
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
  private readonly config: ResolvedApiKeyConfig;

  constructor(
    private readonly dataSource: DataSource,
    @Inject(POLICY_CLOCK) private readonly now: () => number,
    @Optional() @Inject(AuditService) private readonly audit: AuditService | null = null,
    @Optional() @Inject(COMPILED_POLICY) private readonly policy: CompiledPolicy | null = null,
  ) {
    this.config = resolveApiKeyConfig(policy?.document.apiKeys ?? DEFAULT_API_KEY_CONFIG);
  }

  /**
   * Mints a key for `creator`, holding never more than the creator ({@link checkApiKeyGrant}: roles compared by the
   * operations they allow, scopes, tenant, tier), expiring by `apiKeys.defaultTtl` unless given an earlier time
   * and never later than `apiKeys.maxTtl`, and only while the person behind the creator holds fewer than
   * `apiKeys.maxPerCreator` live keys. The key records that person as its creator.
   * @throws ValidationFailedException (400) for an unknown role or tier, or an expiry in the past or past the maximum.
   * @throws PolicyForbiddenException (403) when the key would hold more than its creator, or the creator has too many keys.
   */
  async issue(
    creator: Principal,
    input: IssueApiKeyInput,
    origin: AuditOrigin = {},
  ): Promise<{ key: string; apiKey: ApiKeyView }> {
    if (!this.policy) throw new Error('ApiKeyService.issue needs the compiled policy (import PolicyModule)');
    const refusal = checkApiKeyGrant(creator, input, this.policy);
    if (refusal) {
      if (refusal.code === 'invalid') throw new ValidationFailedException(refusal.message);
      throw new PolicyForbiddenException(refusal.message);
    }
    const now = this.now();
    const maxExpiry = now + this.config.maxTtlMs;
    let expiresAt = input.expiresAt ?? now + this.config.defaultTtlMs;
    if (!Number.isFinite(expiresAt) || expiresAt <= now)
      throw new ValidationFailedException('expiresAt must be in the future');
    if (expiresAt > maxExpiry) {
      throw new ValidationFailedException(
        `expiresAt must be at most ${this.config.maxTtlMs / 86_400_000} days ahead (${new Date(maxExpiry).toISOString()})`,
      );
    }
    expiresAt = Math.floor(expiresAt);
    const person = personOf(creator);
    const live = await this.dataSource.getRepository(ApiKeyEntity).count({
      where: [
        { createdBy: person, revokedAt: IsNull(), expiresAt: MoreThan(now) },
        { createdBy: person, revokedAt: IsNull(), expiresAt: IsNull() },
      ],
    });
    if (live >= this.config.maxPerCreator) {
      throw new PolicyForbiddenException(
        `You already hold ${live} live API keys, the maximum (${this.config.maxPerCreator}); revoke one first`,
      );
    }
    return this.create(
      {
        name: input.name,
        roles: [...input.roles],
        scopes: [...input.scopes],
        tenantId: creator.tenantId ?? input.tenantId ?? null,
        tier: input.tier ?? null,
        expiresAt,
        createdBy: person,
      },
      origin,
    );
  }

  /**
   * Stores a key exactly as given, without the creator checks, lifetime bounds or cap of {@link issue} (for seeding
   * and administration scripts). The returned `key` is the only time the full key exists outside the caller.
   */
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
  async revoke(
    id: string,
    tenantId: string | undefined,
    revokedBy: string | null = null,
    origin: AuditOrigin = {},
  ): Promise<boolean> {
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
      createdBy: entity.createdBy,
      accountId: this.config.limits === 'creator' ? entity.createdBy : null,
    } satisfies Principal);
  }

  /**
   * The tenant of the key a presented value names, when that key exists (whatever its secret), so a failed attempt
   * on a tenant's key is audited under that tenant. Null for an unknown or malformed key.
   */
  async tenantOfPresented(presented: string): Promise<string | null> {
    const match = /^apk_([0-9a-f]{16})_/.exec(presented);
    if (!match) return null;
    return (await this.find(match[1]))?.tenantId ?? null;
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
