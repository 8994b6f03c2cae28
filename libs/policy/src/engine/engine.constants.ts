/** Optional injection token of an initial `Policy[]` for {@link PolicyEngine} (decorated providers are added too). */
export const POLICY_EVALUATORS = Symbol('POLICY:EVALUATORS');
