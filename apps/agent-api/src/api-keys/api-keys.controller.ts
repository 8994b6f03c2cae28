import { Body, Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import {
  AgentOperation,
  ApiKeyService,
  CurrentPrincipal,
  PolicyNotFoundException,
  RecordScope,
  RequestOrigin,
  type Principal,
  type AuditOrigin,
  type RecordScopeFilter,
} from 'nest-agent-policy';
import { Guarded } from '../common/guarded.decorator';
import { ApiKeyIdParam, CreateApiKeyDto } from './api-key.dto';

@ApiTags('api-keys')
@Controller('api-keys')
export class ApiKeysController {
  constructor(private readonly apiKeys: ApiKeyService) {}

  /**
   * Creates a key. The key is in this response only. A key never has more power than its creator (roles compared by
   * what they allow, scopes, tenant, tier), expires by default, and a creator holds a bounded number of live keys.
   */
  @Post()
  @Guarded(AgentOperation.ApiKeyCreate, 'api-keys:write')
  async create(
    @CurrentPrincipal() principal: Principal,
    @Body() dto: CreateApiKeyDto,
    @RequestOrigin() origin: AuditOrigin,
  ) {
    const { key, apiKey } = await this.apiKeys.issue(
      principal,
      {
        name: dto.name,
        roles: dto.roles,
        scopes: dto.scopes,
        tenantId: dto.tenantId ?? null,
        tier: dto.tier ?? null,
        expiresAt: dto.expiresAt ? Date.parse(dto.expiresAt) : null,
      },
      origin,
    );
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
    if (!(await this.apiKeys.revoke(params.id, scope.tenantId, principal.id, origin)))
      throw new PolicyNotFoundException();
  }
}
