/**
 * Every backend of the request path is chosen by an injection token and can be replaced: the budget store
 * (`BudgetStore`), the throttler storage (`getStorageToken()`), the approval store (`ApprovalStore`) and the event
 * sink (`POLICY_EVENTS`), with `overrideProvider` in a testing module or the module's `providers` option. Each test
 * proves the replacement is the one the requests use.
 */
import { Controller, Get, Injectable, type Provider } from '@nestjs/common';
import { getStorageToken } from '@nestjs/throttler';
import { type TestingModuleBuilder } from '@nestjs/testing';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import {
  ApprovalStore,
  Budget,
  BudgetStore,
  MemoryThrottlerStorage,
  POLICY_EVENTS,
  PolicyEventSubscriber,
  RequireOperation,
  RequireScopes,
  type ApprovalView,
  type CreateApprovalInput,
  type PolicyEvent,
  type PolicyEventListener,
  type PolicyEvents,
  type PolicyModuleOptions,
  type Principal,
} from 'nest-agent-policy';
import {
  bootPolicyApp,
  recordBudgetStore,
  ReportsController,
  SECRET,
  type RecordingBudgetStore,
} from './policy-test.app';

const auth = (roles = ['reader']) =>
  `Bearer ${jwt.sign({ sub: 'u1', roles, scope: 'reports:read' }, SECRET, { algorithm: 'HS256', expiresIn: 600 })}`;

@Controller('budgeted')
@RequireOperation('report.read')
class BudgetedController {
  @Get()
  @RequireScopes('reports:read')
  @Budget({ requests: 1 })
  run() {
    return { ok: true };
  }
}

class RecordingThrottlerStorage extends MemoryThrottlerStorage {
  increments = 0;
  override increment(
    ...args: Parameters<MemoryThrottlerStorage['increment']>
  ): ReturnType<MemoryThrottlerStorage['increment']> {
    this.increments++;
    return super.increment(...args);
  }
}

class FakeApprovalStore extends ApprovalStore {
  created: CreateApprovalInput[] = [];
  consumed: string[] = [];
  async create(input: CreateApprovalInput): Promise<ApprovalView> {
    this.created.push(input);
    const now = new Date().toISOString();
    return {
      id: `fake-${this.created.length}`,
      principalId: input.principal.id,
      tenantId: input.principal.tenantId,
      operation: input.operation,
      requestDigest: input.digest,
      reason: input.reason ?? null,
      status: 'pending',
      decidedBy: null,
      decidedAt: null,
      expiresAt: now,
      createdAt: now,
      consumedAt: null,
    };
  }
  async consume(id: string, _principal: Principal, _operation: string, _digest: string): Promise<boolean> {
    this.consumed.push(id);
    return id === 'granted-elsewhere';
  }
}

class CollectingEvents implements PolicyEvents {
  readonly events: PolicyEvent[] = [];
  async emit(event: PolicyEvent): Promise<void> {
    this.events.push(event);
  }
}

/** An app's own subscriber: one provider is all it takes. */
@PolicyEventSubscriber()
@Injectable()
class DenialCounter implements PolicyEventListener {
  readonly seen: string[] = [];
  onPolicyEvent(event: PolicyEvent): void {
    if (event.type === 'access.denied') this.seen.push(event.operation);
  }
}

const boot = (
  options: Partial<PolicyModuleOptions>,
  configure?: (b: TestingModuleBuilder) => void,
  providers?: Provider[],
) => bootPolicyApp(options, [ReportsController, BudgetedController], configure, providers);

describe('backends replaced by token', () => {
  it('BudgetStore, with overrideProvider', async () => {
    let store: RecordingBudgetStore | undefined;
    const app = await boot(
      { budgets: { principal: { day: { requests: 100 } } } },
      recordBudgetStore((made) => (store = made)),
    );
    try {
      const res = await request(app.getHttpServer()).get('/budgeted').set('Authorization', auth());
      expect(res.status).toBe(200);
      expect(app.get(BudgetStore)).toBe(store);
      expect(store!.reserves).toBe(1);
    } finally {
      await app.close();
    }
  });

  it('the throttler storage, with overrideProvider(getStorageToken())', async () => {
    const storage = new RecordingThrottlerStorage();
    const app = await boot({ rateLimits: { default: { limit: 2, ttl: 60 } } }, (b) =>
      b.overrideProvider(getStorageToken()).useValue(storage),
    );
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++)
        statuses.push((await request(app.getHttpServer()).get('/reports').set('Authorization', auth())).status);
      expect(statuses).toEqual([200, 200, 429]);
      expect(storage.increments).toBeGreaterThanOrEqual(3);
    } finally {
      await app.close();
      storage.close();
    }
  });

  it.each([
    [
      'overrideProvider',
      (store: FakeApprovalStore) => ({
        configure: (b: TestingModuleBuilder) => b.overrideProvider(ApprovalStore).useValue(store),
        providers: [],
      }),
    ],
    [
      'the providers option',
      (store: FakeApprovalStore) => ({
        configure: undefined,
        providers: [{ provide: ApprovalStore, useValue: store }],
      }),
    ],
  ])('ApprovalStore, with %s', async (_how, setup) => {
    const store = new FakeApprovalStore();
    const { configure, providers } = setup(store);
    const app = await boot({ approvals: { operations: ['report.read'] }, providers }, configure);
    try {
      const asked = await request(app.getHttpServer()).get('/reports').set('Authorization', auth());
      expect(asked.status).toBe(403);
      expect(asked.body).toMatchObject({ code: 'approval_required', approvalId: 'fake-1' });
      expect(store.created).toHaveLength(1);
      expect(store.created[0]).toMatchObject({
        operation: 'report.read',
        digest: expect.stringMatching(/^[0-9a-f]{64}$/),
      });
      const passed = await request(app.getHttpServer())
        .get('/reports')
        .set('Authorization', auth())
        .set('X-Approval-Id', 'granted-elsewhere');
      expect(passed.status).toBe(200);
      expect(store.consumed).toEqual(['granted-elsewhere']);
    } finally {
      await app.close();
    }
  });

  it('the event sink, with overrideProvider(POLICY_EVENTS)', async () => {
    const sink = new CollectingEvents();
    const app = await boot({}, (b) => b.overrideProvider(POLICY_EVENTS).useValue(sink));
    try {
      expect(
        (
          await request(app.getHttpServer())
            .get('/reports/agents')
            .set('Authorization', auth(['nobody']))
        ).status,
      ).toBe(403);
      expect(
        (await request(app.getHttpServer()).get('/reports').set('Authorization', 'Bearer not-a-token')).status,
      ).toBe(401);
      expect(sink.events.map((e) => e.type)).toEqual(['access.denied', 'auth.failure']);
      expect(sink.events[0]).toMatchObject({
        type: 'access.denied',
        operation: 'agent.read',
        shadow: false,
        decision: { code: 'forbidden' },
      });
    } finally {
      await app.close();
    }
  });

  it('a subscriber of the default sink is one provider', async () => {
    const app = await boot({}, undefined, [DenialCounter]);
    try {
      expect(
        (
          await request(app.getHttpServer())
            .get('/reports/agents')
            .set('Authorization', auth(['nobody']))
        ).status,
      ).toBe(403);
      expect(app.get(DenialCounter).seen).toEqual(['agent.read']);
    } finally {
      await app.close();
    }
  });
});
