/** A path segment that is an id: a UUID, a number, a long hex or base64url token. */
const ID_SEGMENT = /^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\d+|[0-9a-f]{16,}|apk_[A-Za-z0-9_-]+|[A-Za-z0-9_-]{24,})$/i;

/**
 * The `route` label of a request path: the query dropped, id-like segments replaced by `:id`, so that every record
 * of a route counts under one label. Pure.
 * @example
 * routeLabel('/customers/0b5c…-…?limit=5'); // '/customers/:id'
 */
export function routeLabel(url: string): string {
  const path = url.split('?', 1)[0].split('#', 1)[0];
  const segments = path.split('/').map((s) => (ID_SEGMENT.test(s) ? ':id' : s.length > 64 ? ':long' : s));
  const label = segments.join('/');
  return label.length === 0 ? '/' : label;
}

/**
 * Keeps the label set bounded: a 404 on a route never answered otherwise counts as `unmatched` (scanners probing
 * paths add no label), and past `max` distinct routes new ones count as `other`.
 */
export class RouteLabels {
  private readonly seen = new Set<string>();

  constructor(private readonly max = 200) {}

  label(url: string, status: number): string {
    const label = routeLabel(url);
    if (this.seen.has(label)) return label;
    if (status === 404) return 'unmatched';
    if (this.seen.size >= this.max) return 'other';
    this.seen.add(label);
    return label;
  }
}
