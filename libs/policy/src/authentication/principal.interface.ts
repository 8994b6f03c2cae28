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
  /**
   * For an API key: the person behind it, i.e. the id of the user or service that created it (a key minted with a
   * key records the person behind that key). Approvals compare it, so nobody approves their own request with a key.
   */
  readonly createdBy?: string | null;
  /**
   * The id whose rate-limit buckets and principal budgets this caller uses: for an API key its creator's (policy
   * `apiKeys.limits: creator`, the default), else its own `id`. See {@link accountIdOf}.
   */
  readonly accountId?: string | null;
}

/**
 * The person behind a principal: an API key's creator, anyone else's own id.
 * @example
 * personOf({ id: 'apikey:ab12', type: 'api-key', createdBy: 'alice', ... }); // 'alice'
 */
export function personOf(principal: Principal): string {
  return principal.type === 'api-key' && principal.createdBy ? principal.createdBy : principal.id;
}

/**
 * The id a principal's rate-limit buckets and principal budgets are counted under (tenant aside).
 * @example
 * accountIdOf({ id: 'apikey:ab12', accountId: 'alice', ... }); // 'alice'
 */
export function accountIdOf(principal: Principal): string {
  return principal.accountId ?? principal.id;
}
