/**
 * The policy engine: combines `Policy` evaluators by priority into one decision with its reasons.
 * Deny overrides approval, approval overrides allow, nothing allowing denies, a failing policy denies.
 */

/**
 * The evaluator contract and the shapes of its input, verdict and the combined decision.
 * @example
 * ```ts
 * const tenantPolicy: Policy = {
 *   name: 'tenant',
 *   priority: 10,
 *   evaluate: ({ principal, resource }) =>
 *     resource && resource.tenantId !== principal.tenantId
 *       ? { outcome: 'DENY', reason: 'another tenant', code: 'not_found' }
 *       : { outcome: 'ABSTAIN', reason: 'same tenant' },
 * };
 * ```
 */
export type {
  Policy,
  PolicyDecision,
  PolicyDecisionOutcome,
  PolicyInput,
  PolicyOutcome,
  PolicyReason,
  PolicyVerdict,
} from './policy.interface';

/**
 * Evaluates registered policies in priority order (lower first) and combines their verdicts. Usable as a plain class
 * or injected from {@link PolicyEngineModule}. `register()` throws for a policy without name, finite priority or
 * `evaluate`, or with a duplicate name; `evaluate()` never rejects. `ENGINE_POLICY_NAME` is the name under which the
 * engine reports its own fail-closed denial.
 * @example
 * ```ts
 * const engine = new PolicyEngine([tenantPolicy, rolesPolicy]);
 * const decision = await engine.evaluate({ principal, operation: 'agent.delete', resource: agent });
 * if (decision.outcome === 'DENY') throw new PolicyForbiddenException(decision.reasons.at(-1)?.reason);
 * ```
 * @throws Error from `register()` for an invalid policy.
 */
export { ENGINE_POLICY_NAME, PolicyEngine } from './policy.engine';

/**
 * Marks a provider class as a policy of the engine: add the class to any module's `providers` and it is registered
 * at module init. Evaluators must be singletons.
 * @example
 * ```ts
 * @PolicyEvaluator()
 * @Injectable()
 * export class NoDeletesOnFridays implements Policy {
 *   readonly name = 'no-deletes-on-fridays';
 *   readonly priority = 20;
 *   evaluate({ operation }: PolicyInput): PolicyVerdict {
 *     return operation.endsWith('.delete') && new Date().getUTCDay() === 5
 *       ? { outcome: 'DENY', reason: 'no deletes on Fridays' }
 *       : { outcome: 'ABSTAIN', reason: 'not a Friday delete' };
 *   }
 * }
 * ```
 */
export { PolicyEvaluator, type PolicyEvaluatorOptions } from './policy-evaluator.decorator';

/**
 * Collects `@PolicyEvaluator()` providers into the engine at module init (through Nest's `DiscoveryService`).
 * @example
 * ```ts
 * @Module({ imports: [DiscoveryModule], providers: [PolicyEngine, EvaluatorExplorer] })
 * export class MyPolicyModule {}
 * ```
 * @throws Error at init, naming the provider, when a decorated provider is not a singleton `Policy`.
 */
export { EvaluatorExplorer } from './evaluator.explorer';

/**
 * Provides and exports `PolicyEngine`, filled with every `@PolicyEvaluator()` provider of the app.
 * @example
 * ```ts
 * @Module({ imports: [PolicyEngineModule], providers: [NoDeletesOnFridays] })
 * export class AppModule {}
 * ```
 */
export { PolicyEngineModule } from './policy-engine.module';

/**
 * Optional token of an initial `Policy[]` for the engine, for policies that are not classes.
 * @example
 * ```ts
 * providers: [{ provide: POLICY_EVALUATORS, useValue: [tenantPolicy] }]
 * ```
 */
export { POLICY_EVALUATORS } from './engine.constants';
