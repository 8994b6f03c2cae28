import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsOptional,
  IsString,
  Length,
  ValidateBy,
  ValidateNested,
} from 'class-validator';

export class RunStepDto {
  @ApiProperty({
    maxLength: 10000,
    description: 'A message for echo-1; `/tool <name> <json args>` asks for a tool call.',
  })
  @IsString()
  @Length(1, 10000)
  message!: string;
}

export class CreateRunDto {
  @ApiProperty({ type: [RunStepDto], minItems: 1, maxItems: 100 })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(100)
  @ValidateNested({ each: true })
  @Type(() => RunStepDto)
  steps!: RunStepDto[];

  @ApiPropertyOptional({
    description:
      'How many times the steps run (1 to 10000, default 1), or `true` to repeat them until a run guard stops the run.',
    oneOf: [{ type: 'integer', minimum: 1, maximum: 10000 }, { type: 'boolean' }],
  })
  @IsOptional()
  @ValidateBy({
    name: 'isRepeat',
    validator: {
      validate: (value: unknown) => parseRepeat(value) !== null,
      defaultMessage: () => 'repeat must be an integer from 1 to 10000, or a boolean',
    },
  })
  repeat?: number | boolean;
}

/** `repeat` as the runner reads it: a count, or `true` for "until a guard stops it". */
export function parseRepeat(value: unknown): number | true | null {
  if (value === undefined || value === false) return 1;
  if (value === true) return true;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 10_000) return value;
  return null;
}
