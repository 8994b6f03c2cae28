/**
 * Calls running now, per key (principal and tool), in this process. `tryAcquire` takes a slot when fewer than
 * `max` are taken; the returned function gives it back (once, however often it is called).
 */
export class ToolConcurrencyLimiter {
  private readonly running = new Map<string, number>();

  tryAcquire(key: string, max: number): (() => void) | null {
    const current = this.running.get(key) ?? 0;
    if (current >= max) return null;
    this.running.set(key, current + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.running.get(key) ?? 1) - 1;
      if (left <= 0) this.running.delete(key);
      else this.running.set(key, left);
    };
  }

  /** Calls running under `key`. */
  count(key: string): number {
    return this.running.get(key) ?? 0;
  }
}
