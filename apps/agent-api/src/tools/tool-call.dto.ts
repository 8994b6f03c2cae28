import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsObject, IsOptional } from 'class-validator';

export class ToolCallDto {
  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    description: "The tool's arguments, checked against its input schema",
  })
  @IsOptional()
  @IsObject()
  args?: Record<string, unknown>;
}
