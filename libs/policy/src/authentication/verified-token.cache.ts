import type { Principal } from './principal.interface';

interface Entry {
  principal: Principal;
  expMs: number;
  nbfMs: number;
}

/**
 * Remembers tokens whose signature and claims were verified, so a token seen again skips the signature check.
 * The key is exact bytes that carry the token (the guard uses `Bearer <token>`, the header as clients usually send
 * it, so such a header seen before is not even parsed again): the same bytes carry the same, already verified,
 * signature. An entry is used
 * only inside the token's own validity window (`nbf` ≤ now < `exp`, with the configured tolerance); revocation is
 * still checked on every request by the caller. Bounded: the oldest entries go first.
 */
export class VerifiedTokenCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly maxEntries = 10_000,
    private readonly toleranceMs = 0,
  ) {}

  get(token: string, now: number): Principal | null {
    const entry = this.entries.get(token);
    if (!entry) return null;
    if (now >= entry.expMs + this.toleranceMs) {
      this.entries.delete(token);
      return null;
    }
    return now + this.toleranceMs >= entry.nbfMs ? entry.principal : null;
  }

  set(token: string, principal: Principal, expMs: number, nbfMs: number): void {
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(token, { principal, expMs, nbfMs });
  }

  get size(): number {
    return this.entries.size;
  }
}
