/** What a redacted argument reads in audit events. */
export const REDACTED = '[REDACTED]';

/**
 * A copy of `args` with the `sensitive` fields (dotted paths; `*` for every key of an object or item of a list)
 * replaced by `[REDACTED]`. Pure; never mutates `args`.
 *
 * @example
 * redactArguments({ card: { number: '4111…', exp: '12/30' } }, ['card.number']); // { card: { number: '[REDACTED]', exp: '12/30' } }
 */
export function redactArguments(args: unknown, sensitive: readonly string[]): unknown {
  if (!sensitive.length) return args;
  let out = args;
  for (const path of sensitive) out = redactPath(out, path.split('.'));
  return out;
}

function redactPath(value: unknown, path: readonly string[]): unknown {
  if (path.length === 0 || value === null || typeof value !== 'object') return value;
  const [head, ...rest] = path;
  if (Array.isArray(value)) {
    if (head !== '*' && !/^\d+$/.test(head)) return value;
    return value.map((item, i) => (head === '*' || String(i) === head ? (rest.length ? redactPath(item, rest) : REDACTED) : item));
  }
  const record = value as Record<string, unknown>;
  const copy: Record<string, unknown> = { ...record };
  for (const key of head === '*' ? Object.keys(record) : Object.prototype.hasOwnProperty.call(record, head) ? [head] : []) {
    copy[key] = rest.length ? redactPath(record[key], rest) : REDACTED;
  }
  return copy;
}
