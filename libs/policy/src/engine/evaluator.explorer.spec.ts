import { describe, expect, it } from '@jest/globals';
import { Injectable, Module, Scope } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { Principal } from '../authentication/principal.interface';
import { PolicyEngine } from './policy.engine';
import { PolicyEngineModule } from './policy-engine.module';
import { PolicyEvaluator } from './policy-evaluator.decorator';
import type { Policy, PolicyInput, PolicyVerdict } from './policy.interface';

const principal: Principal = {
  id: 'u',
  type: 'user',
  tenantId: null,
  roles: [],
  scopes: [],
  tier: null,
  tokenId: null,
};

@Injectable()
class Greeting {
  readonly text = 'allowed by the app';
}

@PolicyEvaluator()
@Injectable()
class AppPolicy implements Policy {
  readonly name = 'app-policy';
  readonly priority = 10;
  constructor(private readonly greeting: Greeting) {}
  evaluate(input: PolicyInput): PolicyVerdict {
    return input.operation === 'agent.read'
      ? { outcome: 'ALLOW', reason: this.greeting.text }
      : { outcome: 'ABSTAIN', reason: 'not mine' };
  }
}

@PolicyEvaluator()
@Injectable()
class BlockDeletes implements Policy {
  readonly name = 'block-deletes';
  readonly priority = 1;
  evaluate(input: PolicyInput): PolicyVerdict {
    return input.operation.endsWith('.delete')
      ? { outcome: 'DENY', reason: 'deletes are off', code: 'forbidden' }
      : { outcome: 'ABSTAIN', reason: 'not a delete' };
  }
}

@Module({ providers: [Greeting, BlockDeletes], exports: [Greeting] })
class FeatureModule {}

describe('EvaluatorExplorer', () => {
  it('registers every @PolicyEvaluator() provider of the app, from any module, by priority', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [PolicyEngineModule, FeatureModule],
      providers: [AppPolicy],
    }).compile();
    await moduleRef.init();
    const engine = moduleRef.get(PolicyEngine);
    expect(engine.policies.map((p) => p.name)).toEqual(['block-deletes', 'app-policy']);

    await expect(engine.evaluate({ principal, operation: 'agent.read' })).resolves.toMatchObject({
      outcome: 'ALLOW',
      reasons: [
        { policy: 'block-deletes', outcome: 'ABSTAIN' },
        { policy: 'app-policy', outcome: 'ALLOW', reason: 'allowed by the app' },
      ],
    });
    await expect(engine.evaluate({ principal, operation: 'agent.delete' })).resolves.toMatchObject({
      outcome: 'DENY',
      deniedBy: 'block-deletes',
    });
    await moduleRef.close();
  });

  it('lets a test replace an evaluator with overrideProvider', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [PolicyEngineModule],
      providers: [Greeting, AppPolicy],
    })
      .overrideProvider(Greeting)
      .useValue({ text: 'overridden' })
      .compile();
    await moduleRef.init();
    const decision = await moduleRef.get(PolicyEngine).evaluate({ principal, operation: 'agent.read' });
    expect(decision.reasons[0]?.reason).toBe('overridden');
    await moduleRef.close();
  });

  it('denies everything when the app registers no evaluator', async () => {
    const moduleRef = await Test.createTestingModule({ imports: [PolicyEngineModule] }).compile();
    await moduleRef.init();
    await expect(moduleRef.get(PolicyEngine).evaluate({ principal, operation: 'agent.read' })).resolves.toMatchObject({
      outcome: 'DENY',
    });
    await moduleRef.close();
  });

  it('fails at init when a decorated provider is not a policy', async () => {
    @PolicyEvaluator()
    @Injectable()
    class NotAPolicy {}
    const moduleRef = await Test.createTestingModule({
      imports: [PolicyEngineModule],
      providers: [NotAPolicy],
    }).compile();
    await expect(moduleRef.init()).rejects.toThrow(
      /NotAPolicy must have a "name", a numeric "priority" and an evaluate\(\) method/,
    );
  });

  it('fails at init when an evaluator is request scoped', async () => {
    @PolicyEvaluator()
    @Injectable({ scope: Scope.REQUEST })
    class PerRequest implements Policy {
      readonly name = 'per-request';
      readonly priority = 1;
      evaluate(): PolicyVerdict {
        return { outcome: 'ALLOW', reason: 'x' };
      }
    }
    const moduleRef = await Test.createTestingModule({
      imports: [PolicyEngineModule],
      providers: [PerRequest],
    }).compile();
    await expect(moduleRef.init()).rejects.toThrow(/PerRequest must be a singleton provider/);
  });
});
