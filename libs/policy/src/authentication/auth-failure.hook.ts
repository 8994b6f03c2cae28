/**
 * Hooks the authentication guard calls around credential checks: rate limiting failed attempts per client IP
 * (credential stuffing is limited even though the request never gets a principal) and auditing failures.
 * The library provides it; replace it by providing the class token.
 */
export abstract class AuthFailureHook {
  /** Throws (429) when the IP has used up its failed attempts. */
  abstract beforeAttempt(ip: string): Promise<void>;
  /** Records one failed attempt; `tenantId` is the tenant of the API key it named, when that key exists. */
  abstract onFailure(ip: string, requestId: string, credential: 'jwt' | 'api-key', tenantId?: string | null): Promise<void>;
}
