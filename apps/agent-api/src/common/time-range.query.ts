import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsDateString, IsOptional } from 'class-validator';

/** `since` and `until` (ISO 8601) of the time-ranged queries. */
export class TimeRangeQuery {
  @ApiPropertyOptional({ format: 'date-time' })
  @IsOptional()
  @IsDateString()
  since?: string;

  @ApiPropertyOptional({ format: 'date-time' })
  @IsOptional()
  @IsDateString()
  until?: string;
}

/** Epoch milliseconds of an optional ISO date. */
export const epochMs = (iso: string | undefined): number | undefined => (iso ? Date.parse(iso) : undefined);
