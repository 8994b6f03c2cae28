import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import type { CompiledPolicy } from '../authorization/compiled-policy';
import { validateBudgetConfig } from './budget-config.validator';
import type { BudgetSpec } from './budget.types';
import { BUDGET_KEY, COMPILED_POLICY } from '../policy.constants';

/**
 * At init, checks the `budgets` and `pricing` sections and that every model a `@Budget()` route names has a price:
 * a budget on an unpriced model would make calls free, so it fails the boot instead.
 * @throws Error naming the key (`pricing: model "x" referenced by a budget is not priced`).
 */
@Injectable()
export class BudgetRouteValidator implements OnModuleInit {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
    @Inject(COMPILED_POLICY) private readonly compiled: CompiledPolicy,
  ) {}

  onModuleInit(): void {
    const models = new Set<string>();
    for (const wrapper of this.discovery.getControllers()) {
      if (!wrapper.metatype) continue;
      const proto = wrapper.metatype.prototype as Record<string, unknown>;
      for (const name of this.scanner.getAllMethodNames(proto)) {
        const spec = this.reflector.getAllAndOverride<BudgetSpec | undefined>(BUDGET_KEY, [
          proto[name] as () => unknown,
          wrapper.metatype as () => unknown,
        ]);
        if (spec?.model) models.add(spec.model);
      }
    }
    const { budgets, pricing } = this.compiled.document;
    validateBudgetConfig(budgets ?? undefined, pricing ?? undefined, models);
  }
}
