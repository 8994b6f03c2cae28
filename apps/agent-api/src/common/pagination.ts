import { ParseUUIDPipe } from '@nestjs/common';
import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';
import { Brackets, type ObjectLiteral, type SelectQueryBuilder } from 'typeorm';
import { ValidationFailedException } from 'nest-agent-policy';

/** `limit` and `cursor` of every list endpoint. */
export class PageQuery {
  @ApiPropertyOptional({ minimum: 1, maximum: 100, default: 20 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100)
  limit?: number;

  @ApiPropertyOptional({ description: 'Opaque cursor from a previous page' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  @Matches(/^[A-Za-z0-9_-]+$/)
  cursor?: string;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A cursor made by {@link paginate}: `[createdAt, id]`, a time in epoch ms (a safe, non-negative integer) and a UUID. */
function decodeCursor(cursor: string): { createdAt: number; id: string } {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(parsed) && parsed.length === 2) {
      const [createdAt, id] = parsed as [unknown, unknown];
      if (Number.isSafeInteger(createdAt) && (createdAt as number) >= 0 && typeof id === 'string' && UUID.test(id)) {
        return { createdAt: createdAt as number, id };
      }
    }
  } catch {
    // fall through
  }
  throw new ValidationFailedException('cursor is not valid');
}

/** Pages a query newest first by (created_at, id), with an opaque keyset cursor. */
export async function paginate<T extends ObjectLiteral & { createdAt: number; id: string }>(
  qb: SelectQueryBuilder<T>,
  alias: string,
  query: PageQuery,
): Promise<Page<T>> {
  const limit = query.limit ?? 20;
  if (query.cursor) {
    const { createdAt, id } = decodeCursor(query.cursor);
    qb.andWhere(
      new Brackets((w) =>
        w
          .where(`${alias}.createdAt < :cc`, { cc: createdAt })
          .orWhere(`${alias}.createdAt = :cc AND ${alias}.id < :ci`, { cc: createdAt, ci: id }),
      ),
    );
  }
  const rows = await qb
    .orderBy(`${alias}.createdAt`, 'DESC')
    .addOrderBy(`${alias}.id`, 'DESC')
    .take(limit + 1)
    .getMany();
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  const nextCursor =
    rows.length > limit && last ? Buffer.from(JSON.stringify([last.createdAt, last.id])).toString('base64url') : null;
  return { items, nextCursor };
}

/** Path ids are UUIDs; anything else is 400 `validation_failed`. */
export const ParseId = new ParseUUIDPipe({
  exceptionFactory: () => new ValidationFailedException('id must be a UUID'),
});
