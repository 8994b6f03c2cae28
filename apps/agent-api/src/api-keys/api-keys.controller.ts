import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import {
  AgentOperation,
  ApiKeyService,
  COMPILED_POLICY,
  CurrentPrincipal,
  PolicyForbiddenException,
  PolicyNotFoundException,
  RecordScope,
  RequestOrigin,
  ValidationFailedException,
  expandScopes,
  scopeCovers,
  type CompiledPolicy,
  type Principal,
  type AuditOrigin,
  type RecordScopeFilter,
} from 'nest-agent-policy';
import { Guarded } from '../common/guarded.decorator';
import { ApiKeyIdParam, CreateApiKeyDto } from './api-key.dto';

@ApiTags('api-keys')
@Controller('api-keys')
export class ApiKeysController {
  constructor(
    private readonly apiKeys: ApiKeyService,
    @Inject(COMPILED_POLICY) private readonly policy: CompiledPolicy,
  ) {}

  /** Creates a key. The key is in this response only. A key never has more power than its creator. */
  @Post()
  @Guarded(AgentOperation.ApiKeyCreate, 'api-keys:write')
  async create(@CurrentPrincipal() principal: Principal, @Body() dto: CreateApiKeyDto, @RequestOrigin() origin: AuditOrigin) {
    for (const role of dto.roles) {
      if (!this.policy.roles.has(role)) throw new ValidationFailedException(`roles: unknown role "${role}"`);
      if (!principal.roles.includes(role)) throw new PolicyForbiddenException(`You cannot grant role "${role}"`);
    }
    const held = expandScopes(principal.scopes, this.policy.scopes);
    for (const scope of dto.scopes) {
      if (![...held].some((h) => scopeCovers(h, scope))) throw new PolicyForbiddenException(`You cannot grant scope "${scope}"`);
    }
    if (principal.tenantId && dto.tenantId !== undefined && dto.tenantId !== principal.tenantId) {
      throw new PolicyForbiddenException('You cannot create keys for another tenant');
    }
    const expiresAt = dto.expiresAt ? Date.parse(dto.expiresAt) : null;
    if (expiresAt !== null && expiresAt <= Date.now()) throw new ValidationFailedException('expiresAt must be in the future');
    const { key, apiKey } = await this.apiKeys.create({
      name: dto.name,
      roles: dto.roles,
      scopes: dto.scopes,
      tenantId: principal.tenantId ?? dto.tenantId ?? null,
      tier: dto.tier ?? null,
      expiresAt,
      createdBy: principal.id,
    }, origin);
    return { ...apiKey, key };
  }

  @Get()
  @Guarded(AgentOperation.ApiKeyList, 'api-keys:read')
  async list(@RecordScope() scope: RecordScopeFilter) {
    return { items: await this.apiKeys.list(scope.tenantId), nextCursor: null };
  }

  @Delete(':id')
  @HttpCode(204)
  @Guarded(AgentOperation.ApiKeyDelete, 'api-keys:write')
  async remove(
    @Param() params: ApiKeyIdParam,
    @CurrentPrincipal() principal: Principal,
    @RecordScope() scope: RecordScopeFilter,
    @RequestOrigin() origin: AuditOrigin,
  ): Promise<void> {
    if (!(await this.apiKeys.revoke(params.id, scope.tenantId, principal.id, origin))) throw new PolicyNotFoundException();
  }
}
