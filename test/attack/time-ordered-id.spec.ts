/**
 * `timeOrderedUuid()` ids (usage ledger rows, audit events) across many pool refills: well-formed UUIDv7 with the RFC
 * variant, accepted by the app's id pipe, unique, and ordered by their time (the keyset cursors order by
 * `(created_at, id)` and the primary key index is what the ids are for).
 */
import { ParseUUIDPipe } from '@nestjs/common';
import { timeOrderedUuid } from 'nest-agent-policy';

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('timeOrderedUuid under attack', () => {
  it('gives 1,000,000 distinct well-formed ids within one millisecond (some 2,400 pool refills)', () => {
    const now = Date.now();
    const seen = new Set<string>();
    const tails = new Set<string>();
    for (let i = 0; i < 1_000_000; i++) {
      const id = timeOrderedUuid(now);
      if (!V7.test(id)) throw new Error(`malformed id ${id} at ${i}`);
      seen.add(id);
      tails.add(id.slice(24));
    }
    expect(seen.size).toBe(1_000_000);
    // 48 random bits in the last group alone: a repeat there would mean pool bytes reused.
    expect(tails.size).toBe(1_000_000);
  });

  it('orders by time across milliseconds and encodes the time in its first 48 bits', () => {
    const start = Date.UTC(2026, 0, 1);
    const ids = Array.from({ length: 5_000 }, (_, i) => timeOrderedUuid(start + i));
    expect([...ids].sort()).toEqual(ids);
    for (const [i, id] of ids.entries()) expect(parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(start + i);
    // The ends of the 48-bit range.
    expect(timeOrderedUuid(0).slice(0, 13)).toBe('00000000-0000');
    expect(timeOrderedUuid(2 ** 48 - 1).slice(0, 13)).toBe('ffffffff-ffff');
  });

  it('is accepted by ParseUUIDPipe (the app validates path ids with it)', async () => {
    const pipe = new ParseUUIDPipe();
    const id = timeOrderedUuid();
    await expect(pipe.transform(id, { type: 'param' })).resolves.toBe(id);
  });
});
