import { createHash } from 'node:crypto';

/** `prev_hash` of the first event of every chain. */
export const GENESIS_HASH = '0'.repeat(64);

/**
 * The hashed fields of an event, as stored: `reasons` and `details` are the stored canonical JSON text
 * (`details` may be null), times are epoch milliseconds.
 */
export interface AuditChainFields {
  readonly id: string;
  readonly chainId: string;
  readonly seq: number;
  readonly type: string;
  readonly outcome: string;
  readonly principalId: string | null;
  readonly tenantId: string | null;
  readonly operation: string | null;
  readonly reasons: string;
  readonly requestId: string | null;
  readonly ip: string | null;
  readonly details: string | null;
  readonly createdAt: number;
}

/** A stored event with its links. */
export interface AuditChainRecord extends AuditChainFields {
  readonly prevHash: string;
  readonly hash: string;
}

/** Every column of a stored audit event, in one order: what the writer inserts and the chain reader selects. */
export const AUDIT_RECORD_COLUMNS: ReadonlyArray<keyof AuditChainRecord> = [
  'id',
  'seq',
  'chainId',
  'type',
  'outcome',
  'principalId',
  'tenantId',
  'operation',
  'reasons',
  'requestId',
  'ip',
  'details',
  'createdAt',
  'prevHash',
  'hash',
];

/** Result of a chain verification. */
export interface ChainVerification {
  readonly valid: boolean;
  readonly checked: number;
  readonly firstBrokenId: string | null;
}

/** SHA-256 (hex) of the canonical JSON of `fields` together with `prevHash`. */
export function hashEvent(prevHash: string, fields: AuditChainFields): string {
  // The literal lists its keys in sorted order and every value is a primitive (reasons and details are already
  // canonical JSON text), so JSON.stringify gives exactly the canonical form, without sorting keys on every event.
  const canonical = JSON.stringify({
    chainId: fields.chainId,
    createdAt: fields.createdAt,
    details: fields.details,
    id: fields.id,
    ip: fields.ip,
    operation: fields.operation,
    outcome: fields.outcome,
    prevHash,
    principalId: fields.principalId,
    reasons: fields.reasons,
    requestId: fields.requestId,
    seq: fields.seq,
    tenantId: fields.tenantId,
    type: fields.type,
  });
  return createHash('sha256').update(canonical, 'utf8').digest('hex');
}

/**
 * Checks one chain incrementally, event by event in `seq` order, so that a chain can be streamed page by page.
 * An event is broken when its `seq` does not follow the previous one (the first must be 1), when its `prev_hash`
 * is not the previous event's hash, or when its own hash does not match its fields.
 */
export class ChainVerifier {
  private expectedSeq = 1;
  private expectedPrevHash = GENESIS_HASH;
  private brokenAt: AuditChainRecord | null = null;
  private count = 0;

  /** Checks the next event. Returns false once the chain is broken (later events are not checked). */
  push(event: AuditChainRecord): boolean {
    if (this.brokenAt) return false;
    this.count += 1;
    const intact =
      Number(event.seq) === this.expectedSeq &&
      event.prevHash === this.expectedPrevHash &&
      hashEvent(event.prevHash, event) === event.hash;
    if (!intact) {
      this.brokenAt = event;
      return false;
    }
    this.expectedSeq += 1;
    this.expectedPrevHash = event.hash;
    return true;
  }

  get checked(): number {
    return this.count;
  }

  get broken(): AuditChainRecord | null {
    return this.brokenAt;
  }
}

/**
 * Verifies a set of events, which may span several chains and come in any order. `firstBrokenId` is the broken
 * event created earliest across all chains.
 */
export function verifyChain(events: readonly AuditChainRecord[]): ChainVerification {
  const chains = new Map<string, AuditChainRecord[]>();
  for (const event of events) {
    const chain = chains.get(event.chainId) ?? [];
    chain.push(event);
    chains.set(event.chainId, chain);
  }
  let checked = 0;
  let firstBroken: AuditChainRecord | null = null;
  for (const chain of chains.values()) {
    const verifier = new ChainVerifier();
    for (const event of [...chain].sort((a, b) => a.seq - b.seq)) {
      if (!verifier.push(event)) break;
    }
    checked += verifier.checked;
    firstBroken = earlier(firstBroken, verifier.broken);
  }
  return { valid: firstBroken === null, checked, firstBrokenId: firstBroken?.id ?? null };
}

/** The earlier of two broken events (by creation time, then id), either of which may be absent. */
export function earlier<T extends { createdAt: number; id: string }>(a: T | null, b: T | null): T | null {
  if (!a) return b;
  if (!b) return a;
  if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt ? a : b;
  return a.id <= b.id ? a : b;
}
