import { createHash } from 'node:crypto';
import { canonicalJson, type JsonValue } from '../audit/canonical-json';

/** The request an approval is bound to. */
export interface ApprovalRequestShape {
  readonly method: string;
  readonly path: string;
  readonly body?: unknown;
}

/** SHA-256 (hex) of the canonical JSON of method (upper-cased), path and body: equal requests, equal digests. */
export function requestDigest(request: ApprovalRequestShape): string {
  const body = request.body === undefined ? null : (JSON.parse(JSON.stringify(request.body) ?? 'null') as JsonValue);
  const canonical = canonicalJson({ method: request.method.toUpperCase(), path: request.path, body });
  return createHash('sha256').update(canonical, 'utf8').digest('hex');
}
