import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, IsArray, IsOptional, IsString, Length, Matches, MaxLength } from 'class-validator';
import { IsIsoDate } from '../common/iso-date';

export class CreateApiKeyDto {
  @ApiProperty({ maxLength: 200 })
  @IsString()
  @Length(1, 200)
  name!: string;

  @ApiProperty({ type: [String], description: 'Roles of the key; each must be a role the creator holds' })
  @IsArray()
  @ArrayMaxSize(20)
  @IsString({ each: true })
  @MaxLength(100, { each: true })
  roles!: string[];

  @ApiProperty({ type: [String], description: "Scopes of the key; each must be covered by the creator's scopes" })
  @IsArray()
  @ArrayMaxSize(50)
  @IsString({ each: true })
  @MaxLength(100, { each: true })
  scopes!: string[];

  @ApiPropertyOptional({ description: 'Tenant of the key; a creator with a tenant can only give its own' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  tenantId?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @Matches(/^[a-z0-9-]{1,50}$/)
  tier?: string;

  @ApiPropertyOptional({ format: 'date-time' })
  @IsOptional()
  @IsIsoDate()
  expiresAt?: string;
}

export class ApiKeyIdParam {
  @Matches(/^[0-9a-f]{16}$/)
  id!: string;
}
