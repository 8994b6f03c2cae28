import { ApiProperty, ApiPropertyOptional, PartialType } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, Length, MaxLength } from 'class-validator';

export const AGENT_MODELS = ['echo-1'] as const;

export class CreateAgentDto {
  @ApiProperty({ maxLength: 200 })
  @IsString()
  @Length(1, 200)
  name!: string;

  @ApiPropertyOptional({ enum: AGENT_MODELS, default: 'echo-1' })
  @IsOptional()
  @IsIn(AGENT_MODELS)
  model?: string;

  @ApiPropertyOptional({ maxLength: 20000 })
  @IsOptional()
  @IsString()
  @MaxLength(20000)
  instructions?: string;
}

export class UpdateAgentDto extends PartialType(CreateAgentDto) {}
