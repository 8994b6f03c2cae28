import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional } from 'class-validator';
import { IsIsoDate } from './iso-date';

/** `since` and `until` (ISO 8601) of the time-ranged queries. */
export class TimeRangeQuery {
  @ApiPropertyOptional({ format: 'date-time' })
  @IsOptional()
  @IsIsoDate()
  since?: string;

  @ApiPropertyOptional({ format: 'date-time' })
  @IsOptional()
  @IsIsoDate()
  until?: string;
}

/** Epoch milliseconds of an optional ISO date. */
export const epochMs = (iso: string | undefined): number | undefined => (iso ? Date.parse(iso) : undefined);
