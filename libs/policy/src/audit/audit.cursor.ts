import { ValidationFailedException } from '../policy.exceptions';

/** A position in a list ordered newest first: the last item's creation time (epoch ms) and id. */
export interface ListPosition {
  readonly createdAt: number;
  readonly id: string;
}

/** Encodes a position as an opaque base64url cursor. */
export function encodeCursor(position: ListPosition): string {
  return Buffer.from(JSON.stringify([position.createdAt, position.id]), 'utf8').toString('base64url');
}

/** Decodes a cursor made by {@link encodeCursor}. @throws ValidationFailedException for anything else. */
export function decodeCursor(cursor: string): ListPosition {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (
      Array.isArray(parsed) &&
      parsed.length === 2 &&
      Number.isSafeInteger(parsed[0]) &&
      (parsed[0] as number) >= 0 &&
      typeof parsed[1] === 'string' &&
      /^[\x21-\x7e]{1,64}$/.test(parsed[1])
    ) {
      return { createdAt: parsed[0] as number, id: parsed[1] };
    }
  } catch {
    // Falls through to the validation error below.
  }
  throw new ValidationFailedException('Invalid cursor', ['cursor must be a value returned as nextCursor']);
}

/** A page size from user input: default when absent, 1..max otherwise. @throws ValidationFailedException */
export function pageLimit(limit: number | string | undefined, fallback: number, max: number): number {
  if (limit === undefined || limit === '') return fallback;
  const value = typeof limit === 'number' ? limit : Number(limit);
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new ValidationFailedException('Invalid limit', [`limit must be an integer from 1 to ${max}`]);
  }
  return value;
}

/** A time bound from user input (epoch ms, ISO 8601 text or a Date) as epoch ms. @throws ValidationFailedException */
export function timeBound(name: string, value: number | string | Date | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const time =
    value instanceof Date
      ? value.getTime()
      : typeof value === 'number'
        ? value
        : /^\d+$/.test(value)
          ? Number(value)
          : Date.parse(value);
  if (!Number.isFinite(time)) {
    throw new ValidationFailedException(`Invalid ${name}`, [`${name} must be an ISO 8601 date or epoch milliseconds`]);
  }
  return time;
}
