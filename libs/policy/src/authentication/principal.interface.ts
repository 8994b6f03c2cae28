/** The kinds of caller the library recognises. */
export type PrincipalType = 'user' | 'service' | 'api-key' | 'anonymous';

/**
 * Who is calling: built from a verified JWT, an API key, or (for anonymous callers) the client IP.
 * It is immutable once built; nothing in a request body can change it.
 */
export interface Principal {
  /** `sub` of a JWT, `apikey:<id>` of an API key, `ip:<address>` of an anonymous caller. */
  readonly id: string;
  readonly type: PrincipalType;
  readonly tenantId: string | null;
  readonly roles: readonly string[];
  readonly scopes: readonly string[];
  readonly tier: string | null;
  /** `jti` of the JWT, or the API key's id. */
  readonly tokenId: string | null;
  /** The API key's id when the caller used one. */
  readonly apiKeyId?: string | null;
}
