import { DiscoveryService } from '@nestjs/core';

/** Options of {@link PolicyEvaluator}; reserved for future use. */
export type PolicyEvaluatorOptions = Record<string, never>;

/**
 * Class decorator marking a provider as a {@link Policy} of the {@link PolicyEngine}. Registering the class as a
 * provider in any module of the app is all it takes: the engine's explorer finds it at module init.
 *
 * @example
 * ```ts
 * @PolicyEvaluator()
 * @Injectable()
 * export class BusinessHoursPolicy implements Policy {
 *   readonly name = 'business-hours';
 *   readonly priority = 50;
 *   evaluate(input: PolicyInput): PolicyVerdict {
 *     return { outcome: 'ABSTAIN', reason: 'within business hours' };
 *   }
 * }
 * // in any module: providers: [BusinessHoursPolicy]
 * ```
 */
export const PolicyEvaluator = DiscoveryService.createDecorator<PolicyEvaluatorOptions>();
