import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { PolicyEngine } from './policy.engine';
import { PolicyEvaluator } from './policy-evaluator.decorator';
import type { Policy } from './policy.interface';

/**
 * Finds every provider decorated with {@link PolicyEvaluator} and registers it with the {@link PolicyEngine}
 * when the module initialises. Evaluators must be singletons (a request-scoped evaluator has no instance at boot).
 */
@Injectable()
export class EvaluatorExplorer implements OnModuleInit {
  protected readonly logger = new Logger(EvaluatorExplorer.name);

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly engine: PolicyEngine,
  ) {}

  /** @throws Error naming the provider when a decorated provider is not a usable singleton policy. */
  onModuleInit(): void {
    const seen = new Set<unknown>();
    for (const wrapper of this.discovery.getProviders({ metadataKey: PolicyEvaluator.KEY })) {
      const label = String(wrapper.name ?? 'unknown provider');
      if (!wrapper.isDependencyTreeStatic()) {
        throw new Error(`Policy evaluator ${label} must be a singleton provider (it is request or transient scoped)`);
      }
      const instance: unknown = wrapper.instance;
      if (seen.has(instance)) continue;
      seen.add(instance);
      if (!isPolicy(instance)) {
        throw new Error(`Policy evaluator ${label} must have a "name", a numeric "priority" and an evaluate() method`);
      }
      if (this.engine.policies.includes(instance)) continue;
      this.engine.register(instance);
      this.logger.log(`Registered policy "${instance.name}" (priority ${instance.priority})`);
    }
  }
}

function isPolicy(value: unknown): value is Policy {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Partial<Policy>;
  return (
    typeof candidate.name === 'string' &&
    typeof candidate.priority === 'number' &&
    typeof candidate.evaluate === 'function'
  );
}
