import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { IsOptional, IsString, Length } from 'class-validator';
import {
  AgentOperation,
  CurrentPrincipal,
  RequestOrigin,
  RevocationService,
  type AuditOrigin,
  type Principal,
} from 'nest-agent-policy';
import { Guarded } from '../common/guarded.decorator';
import { IsIsoDate } from '../common/iso-date';

export class RevokeTokenDto {
  @ApiProperty({ description: 'The `jti` of the token to refuse from now on' })
  @IsString()
  @Length(1, 200)
  jti!: string;

  @ApiPropertyOptional({
    format: 'date-time',
    description:
      'When the token expires; the entry is kept until then, and never less than the longest lifetime a token may claim ' +
      '(jwt.maxLifetime): an earlier or past time is raised to that',
  })
  @IsOptional()
  @IsIsoDate()
  expiresAt?: string;
}

@ApiTags('revocations')
@Controller('revocations')
export class RevocationsController {
  constructor(private readonly revocations: RevocationService) {}

  @Post()
  @HttpCode(204)
  @Guarded(AgentOperation.TokenRevoke, 'tokens:write')
  async revoke(
    @CurrentPrincipal() principal: Principal,
    @Body() dto: RevokeTokenDto,
    @RequestOrigin() origin: AuditOrigin,
  ): Promise<void> {
    await this.revocations.revoke(dto.jti, dto.expiresAt ? Date.parse(dto.expiresAt) : null, principal.id, origin);
  }
}
