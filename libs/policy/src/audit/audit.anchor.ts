import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** The signed fields of an anchor. */
export interface AnchorFields {
  readonly chainId: string;
  readonly seq: number;
  readonly eventId: string;
  readonly hash: string;
  readonly createdAt: number;
}

/** What the verifier found at an anchored position of a chain. */
export interface AnchoredPosition {
  /** The event stored at the anchor's `seq`, if any. */
  readonly event: { readonly id: string; readonly hash: string } | null;
  /** Whether the chain verified intact up to and including that position. */
  readonly intactThrough: boolean;
}

/**
 * HMAC-SHA256 (hex) of an anchor's fields under `key`. Without a key it is a plain SHA-256: that still detects a
 * deleted or rewritten tail, but not someone who can also rewrite the anchors table.
 */
export function anchorMac(key: Buffer | null, fields: AnchorFields): string {
  const text = JSON.stringify([
    fields.chainId,
    Number(fields.seq),
    fields.eventId,
    fields.hash,
    Number(fields.createdAt),
  ]);
  return key
    ? createHmac('sha256', key).update(text, 'utf8').digest('hex')
    : createHash('sha256').update(text, 'utf8').digest('hex');
}

/**
 * Whether an anchor holds: its MAC is right, and the chain still has, intact, the very event it recorded (same id,
 * same hash) at its sequence number. False when newer rows were deleted (the anchored event is gone), when the tail
 * was recomputed (the hash differs), or when the anchor itself was altered.
 * @example
 * anchorHolds(key, anchor, { event: { id: anchor.eventId, hash: anchor.hash }, intactThrough: true }); // true
 */
export function anchorHolds(
  key: Buffer | null,
  anchor: AnchorFields & { readonly mac: string },
  found: AnchoredPosition,
): boolean {
  const expected = Buffer.from(anchorMac(key, anchor), 'hex');
  const given = Buffer.from(/^[0-9a-f]{64}$/.test(anchor.mac) ? anchor.mac : '', 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return false;
  return (
    found.intactThrough && found.event !== null && found.event.id === anchor.eventId && found.event.hash === anchor.hash
  );
}

/**
 * The anchor key from `audit.anchorKey`: at least 32 bytes, or absent.
 * @throws Error naming `audit.anchorKey` when it is set but too short or not a string.
 */
export function resolveAnchorKey(value: unknown): Buffer | null {
  if (value === undefined || value === null || value === '') return null;
  if (typeof value !== 'string' || Buffer.byteLength(value, 'utf8') < 32)
    throw new Error('audit.anchorKey must be a string of at least 32 bytes');
  return Buffer.from(value, 'utf8');
}
