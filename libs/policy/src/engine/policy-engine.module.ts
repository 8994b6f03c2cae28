import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { EvaluatorExplorer } from './evaluator.explorer';
import { PolicyEngine } from './policy.engine';

/**
 * Provides the {@link PolicyEngine} and collects every `@PolicyEvaluator()` provider of the application into it.
 */
@Module({
  imports: [DiscoveryModule],
  providers: [PolicyEngine, EvaluatorExplorer],
  exports: [PolicyEngine],
})
export class PolicyEngineModule {}
