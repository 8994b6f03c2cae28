import { distance } from 'fastest-levenshtein';

/** The edit distance at most which a known key counts as "probably meant". */
const MAX_DISTANCE = 2;

/**
 * The known key that `unknown` was probably meant to be: the nearest within two edits (case-insensitive, so
 * `RateLimits` finds `rateLimits`), or one that starts with it or that it starts with (`operation` → `operations`).
 * Undefined when none is close.
 * @example suggestKey('defualt', ['default', 'anonymous']) // 'default'
 */
export function suggestKey(unknown: string, known: readonly string[]): string | undefined {
  const needle = unknown.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const key of known) {
    const candidate = key.toLowerCase();
    let d = distance(needle, candidate);
    if (d > MAX_DISTANCE && needle.length >= 3 && (candidate.startsWith(needle) || needle.startsWith(candidate))) {
      d = MAX_DISTANCE;
    }
    if (d <= MAX_DISTANCE && d < bestDistance) {
      best = key;
      bestDistance = d;
    }
  }
  return best;
}
