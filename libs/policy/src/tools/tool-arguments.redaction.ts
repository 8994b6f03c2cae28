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
    return (value as unknown[]).map((item, i) =>
      head === '*' || String(i) === head ? (rest.length ? redactPath(item, rest) : REDACTED) : item,
    );
  }
  const record = value as Record<string, unknown>;
  const copy: Record<string, unknown> = { ...record };
  for (const key of head === '*'
    ? Object.keys(record)
    : Object.prototype.hasOwnProperty.call(record, head)
      ? [head]
      : []) {
    copy[key] = rest.length ? redactPath(record[key], rest) : REDACTED;
  }
  return copy;
}

/** Longest string argument kept whole in an audit event. */
export const AUDIT_STRING_LIMIT = 1024;

/**
 * A copy of `args` fit for an audit event: strings past {@link AUDIT_STRING_LIMIT} characters are cut (with the
 * number of characters left out), so a large argument cannot bloat the audit log. Pure.
 */
export function boundForAudit(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') {
    return value.length > AUDIT_STRING_LIMIT
      ? `${value.slice(0, AUDIT_STRING_LIMIT)}…[+${value.length - AUDIT_STRING_LIMIT} chars]`
      : value;
  }
  if (value === null || typeof value !== 'object') return value;
  if (depth >= 16) return '[too deep]';
  if (Array.isArray(value)) return value.map((item) => boundForAudit(item, depth + 1));
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, boundForAudit(v, depth + 1)]),
  );
}
