import type { HitLog } from './rate-limit.strategies';

const INITIAL_CAPACITY = 4;

/**
 * A {@link HitLog} in a ring buffer: O(1) `at`, `shift` and `push`. It starts small and doubles as hits come,
 * never past the largest `capacity` it is given (the limit), so a key hit rarely holds a few numbers and a key at
 * its limit holds `limit` of them.
 *
 * @example
 * const log = new RingHitLog();
 * log.push(1_000, 3);
 * log.at(0); // 1000
 */
export class RingHitLog implements HitLog {
  blockedUntil = 0;
  /** When the memory storage may forget the key (epoch ms); maintained by the storage. */
  expiresAt = 0;
  private entries: number[] = [];
  private head = 0;
  private count = 0;

  get size(): number {
    return this.count;
  }

  at(i: number): number {
    const index = this.head + i;
    const capacity = this.entries.length;
    return this.entries[index < capacity ? index : index - capacity];
  }

  shift(): void {
    if (this.count === 0) return;
    this.head = this.head + 1 === this.entries.length ? 0 : this.head + 1;
    this.count -= 1;
  }

  push(expiresAt: number, capacity: number): void {
    if (this.count === this.entries.length) this.grow(Math.max(this.count + 1, capacity));
    const index = this.head + this.count;
    const length = this.entries.length;
    this.entries[index < length ? index : index - length] = expiresAt;
    this.count += 1;
  }

  clear(): void {
    this.head = 0;
    this.count = 0;
  }

  /** Copies the live entries, oldest first, into a larger array (at most `capacity`, at least one more slot). */
  private grow(capacity: number): void {
    const next = Math.max(this.count + 1, Math.min(capacity, Math.max(INITIAL_CAPACITY, this.entries.length * 2)));
    const entries = new Array<number>(next).fill(0);
    for (let i = 0; i < this.count; i++) entries[i] = this.at(i);
    this.entries = entries;
    this.head = 0;
  }
}
