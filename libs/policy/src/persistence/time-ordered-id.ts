import { randomFillSync } from 'node:crypto';

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
/** Random bytes drawn ahead, 10 a call (a fill per 409 ids instead of a system call per id). */
const pool = Buffer.alloc(4096);
let offset = pool.length;

/**
 * A UUID version 7 (RFC 9562): the time in ms in its first 48 bits, then 74 random bits. Rows of append-only tables
 * (the usage ledger, audit events) keyed by it are inserted at the end of the primary key's index instead of at a
 * random place in it: with random (v4) ids the cost of an insert grows with the table, as the index outgrows the
 * database's page cache (SQLite here: ~10 µs a row at 20,000 rows, ~24 µs at 100,000).
 * @example timeOrderedUuid() // '0193a1f2-7c3e-7d41-9f0a-3b6c2e81d4a7'
 */
export function timeOrderedUuid(now: number = Date.now()): string {
  if (offset + 10 > pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const r = offset;
  offset += 10;
  // 48 bits of ms: the high 16 and the low 32, which JavaScript's bitwise operators can take.
  const high = Math.floor(now / 0x1_0000_0000) & 0xffff;
  const low = now >>> 0;
  return (
    HEX[high >>> 8] +
    HEX[high & 0xff] +
    HEX[low >>> 24] +
    HEX[(low >>> 16) & 0xff] +
    '-' +
    HEX[(low >>> 8) & 0xff] +
    HEX[low & 0xff] +
    '-' +
    HEX[0x70 | (pool[r] & 0x0f)] +
    HEX[pool[r + 1]] +
    '-' +
    HEX[0x80 | (pool[r + 2] & 0x3f)] +
    HEX[pool[r + 3]] +
    '-' +
    HEX[pool[r + 4]] +
    HEX[pool[r + 5]] +
    HEX[pool[r + 6]] +
    HEX[pool[r + 7]] +
    HEX[pool[r + 8]] +
    HEX[pool[r + 9]]
  );
}
