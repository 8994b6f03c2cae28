/**
 * The library puts one global guard (`PolicyGuard`) on every route and no global interceptor: its steps are
 * providers an app can replace, and `@Budget()` puts the budget's guard and interceptor on its own routes. Each
 * test proves a consequence an app can see: a replaced step is the one that runs, in its place in the order; a
 * step answering an observable is awaited; routes without `@Budget()` pass through no interceptor; a call metered
 * by two budget interceptors (a class's and a method's `@Budget()`, or an app's own global one as well) reserves
 * once; a `@Budget()` route with no budget interceptor anywhere refuses rather than runs unmetered.
 */
import { Controller, Get, Injectable, type CanActivate, type ExecutionContext, type Provider } from '@nestjs/common';
import { APP_GUARD, APP_INTERCEPTOR, ApplicationConfig } from '@nestjs/core';
import { Test, type TestingModuleBuilder } from '@nestjs/testing';
import jwt from 'jsonwebtoken';
import { of } from 'rxjs';
import request from 'supertest';
import { DataSource } from 'typeorm';
import {
  AuthorizationGuard,
  Budget,
  BUDGET_ENTITIES,
  BUDGET_MIGRATIONS,
  BudgetInterceptor,
  BudgetService,
  DatabaseBudgetStore,
  PolicyGuard,
  ProductionAuthorizationPolicy,
  PRINCIPAL_REQUEST_KEY,
  RequireOperation,
  RequireScopes,
  type PermissionDecision,
  type PolicyContext,
  type PolicyModuleOptions,
  type Principal,
  type RateLimitDecision,
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

@Controller('metered')
@RequireOperation('report.read')
@Budget({ requests: 1 })
class MeteredController {
  /** The class's `@Budget()` and the method's: two interceptors on one call. */
  @Get('twice')
  @RequireScopes('reports:read')
  @Budget({ requests: 1 })
  twice() {
    return { ok: true };
  }

  /** The class's only. */
  @Get('once')
  @RequireScopes('reports:read')
  once() {
    return { ok: true };
  }
}

/** Refuses `/reports/agents` whatever the policy says, allows the rest through the stock guard. */
@Injectable()
class NoAgentsAuthorization extends AuthorizationGuard {
  readonly seen: string[] = [];
  override canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const req = context.switchToHttp().getRequest<{ url: string }>();
    this.seen.push(req.url);
    if (req.url.startsWith('/reports/agents')) return false;
    return super.canActivate(context);
  }
}

/** A step answering an observable, as Nest lets a guard do. */
@Injectable()
class ObservableAuthorization implements CanActivate {
  answer = true;
  canActivate() {
    return of(this.answer);
  }
}

/** Overrides the decision: the fast lane of its parent must step aside. */
@Injectable()
class NoReportsPolicy extends ProductionAuthorizationPolicy {
  override async checkPermission(ctx: PolicyContext, operation: string): Promise<PermissionDecision> {
    if (operation === 'report.read')
      return { allowed: false, code: 'forbidden', reasons: ['no reports'], recordScope: {} };
    return super.checkPermission(ctx, operation);
  }
}

/** Overrides the buckets: never limited, whatever the document says. */
@Injectable()
class UnlimitedPolicy extends ProductionAuthorizationPolicy {
  protected override defaultLimiter(): Promise<RateLimitDecision | null> {
    return Promise.resolve(null);
  }
}

let storeMade: RecordingBudgetStore | undefined;
const recordingStore = recordBudgetStore((made) => (storeMade = made));

const boot = (
  options: Partial<PolicyModuleOptions>,
  configure?: (b: TestingModuleBuilder) => void,
  providers?: Provider[],
) => bootPolicyApp(options, [ReportsController, MeteredController], configure, providers);

describe('the library guard', () => {
  it('is the only global guard, and the library adds no global interceptor', async () => {
    const app = await boot({});
    try {
      const config = app.get(ApplicationConfig);
      expect(config.getGlobalGuards().map((g) => g.constructor)).toEqual([PolicyGuard]);
      expect(config.getGlobalRequestGuards()).toEqual([]);
      expect(config.getGlobalRequestInterceptors()).toEqual([]);
      expect(config.getGlobalInterceptors()).toEqual([]);
    } finally {
      await app.close();
    }
  });

  it('runs a step replaced with overrideProvider, after the rate limits counted the call', async () => {
    const app = await boot({ rateLimits: { default: { limit: 2, ttl: 60 } } }, (b) =>
      b.overrideProvider(AuthorizationGuard).useClass(NoAgentsAuthorization),
    );
    try {
      const server = app.getHttpServer();
      const statuses: number[] = [];
      statuses.push((await request(server).get('/reports/agents').set('Authorization', auth())).status);
      statuses.push((await request(server).get('/reports').set('Authorization', auth())).status);
      // The refused call spent one of the two: the third is over the limit before the step is asked.
      statuses.push((await request(server).get('/reports').set('Authorization', auth())).status);
      expect(statuses).toEqual([403, 200, 429]);
      expect(app.get<AuthorizationGuard, NoAgentsAuthorization>(AuthorizationGuard).seen).toEqual([
        '/reports/agents',
        '/reports',
      ]);
    } finally {
      await app.close();
    }
  });

  it('awaits a step that answers an observable', async () => {
    const app = await boot({}, (b) => b.overrideProvider(AuthorizationGuard).useClass(ObservableAuthorization));
    try {
      const server = app.getHttpServer();
      expect((await request(server).get('/reports').set('Authorization', auth())).status).toBe(200);
      app.get<AuthorizationGuard, ObservableAuthorization>(AuthorizationGuard).answer = false;
      expect((await request(server).get('/reports').set('Authorization', auth())).status).toBe(403);
      // Authentication still runs first: no credentials is 401 before the replaced step is asked.
      expect((await request(server).get('/reports')).status).toBe(401);
    } finally {
      await app.close();
    }
  });
});

describe('the decision fast lanes step aside for an override', () => {
  it('a ProductionAuthorizationPolicy subclass overriding checkPermission decides', async () => {
    const app = await boot({ policy: NoReportsPolicy });
    try {
      const server = app.getHttpServer();
      expect((await request(server).get('/reports').set('Authorization', auth())).status).toBe(403);
      expect((await request(server).get('/reports/agents').set('Authorization', auth())).status).toBe(200);
    } finally {
      await app.close();
    }
  });

  it('a subclass overriding defaultLimiter decides the limits (memory storage)', async () => {
    const app = await boot({ policy: UnlimitedPolicy, rateLimits: { default: { limit: 1, ttl: 60 } } });
    try {
      const server = app.getHttpServer();
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++)
        statuses.push((await request(server).get('/reports').set('Authorization', auth())).status);
      expect(statuses).toEqual([200, 200, 200]);
    } finally {
      await app.close();
    }
  });

  it('without an override, the same limit refuses the second call', async () => {
    const app = await boot({ rateLimits: { default: { limit: 1, ttl: 60 } } });
    try {
      const server = app.getHttpServer();
      const statuses: number[] = [];
      for (let i = 0; i < 2; i++)
        statuses.push((await request(server).get('/reports').set('Authorization', auth())).status);
      expect(statuses).toEqual([200, 429]);
    } finally {
      await app.close();
    }
  });
});

describe('@Budget() routes', () => {
  const budgets = { budgets: { principal: { day: { requests: 100 } } } };

  it('reserve once when the class and the method are both budgeted', async () => {
    const app = await boot(budgets, recordingStore);
    try {
      const res = await request(app.getHttpServer()).get('/metered/twice').set('Authorization', auth());
      expect(res.status).toBe(200);
      expect(storeMade!.reserves).toBe(1);
      expect(res.headers['x-budget-remaining']).toMatch(/^99;/);
      const once = await request(app.getHttpServer()).get('/metered/once').set('Authorization', auth());
      expect(once.status).toBe(200);
      expect(storeMade!.reserves).toBe(2);
      expect(once.headers['x-budget-remaining']).toMatch(/^98;/);
      // A route without @Budget() reserves nothing and has no budget headers.
      const plain = await request(app.getHttpServer()).get('/reports').set('Authorization', auth());
      expect(plain.status).toBe(200);
      expect(storeMade!.reserves).toBe(2);
      expect(plain.headers['x-budget-remaining']).toBeUndefined();
    } finally {
      await app.close();
    }
  });

  it('reserve once when the app also registers its own global BudgetInterceptor', async () => {
    const app = await boot(budgets, recordingStore, [{ provide: APP_INTERCEPTOR, useClass: BudgetInterceptor }]);
    try {
      const res = await request(app.getHttpServer()).get('/metered/once').set('Authorization', auth());
      expect(res.status).toBe(200);
      expect(storeMade!.reserves).toBe(1);
      expect(res.headers['x-budget-remaining']).toMatch(/^99;/);
    } finally {
      await app.close();
    }
  });
});

describe('a @Budget() route without PolicyModule', () => {
  const user: Principal = {
    id: 'u1',
    type: 'user',
    tenantId: null,
    roles: [],
    scopes: [],
    tier: null,
    tokenId: null,
  };

  @Injectable()
  class UserGuard implements CanActivate {
    canActivate(context: ExecutionContext) {
      context.switchToHttp().getRequest<Record<string, unknown>>()[PRINCIPAL_REQUEST_KEY] = user;
      return true;
    }
  }

  @Controller('alone')
  class AloneController {
    ran = 0;
    @Get()
    @Budget({ requests: 1 })
    run() {
      this.ran++;
      return { ok: true };
    }
  }

  async function bootAlone(providers: Provider[]) {
    const dataSource = await new DataSource({
      type: 'better-sqlite3',
      database: ':memory:',
      entities: [...BUDGET_ENTITIES],
      migrations: [...BUDGET_MIGRATIONS],
    }).initialize();
    await dataSource.runMigrations();
    const service = new BudgetService(
      new DatabaseBudgetStore(dataSource),
      { principal: { day: { requests: 5 } } },
      undefined,
    );
    const moduleRef = await Test.createTestingModule({
      controllers: [AloneController],
      providers: [
        { provide: BudgetService, useValue: service },
        { provide: APP_GUARD, useClass: UserGuard },
        ...providers,
      ],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    return { app, dataSource };
  }

  it('refuses (503) rather than running unmetered when no BudgetInterceptor is registered', async () => {
    const { app, dataSource } = await bootAlone([]);
    try {
      const res = await request(app.getHttpServer()).get('/alone');
      expect(res.status).toBe(503);
      expect(app.get(AloneController).ran).toBe(0);
    } finally {
      await app.close();
      await dataSource.destroy();
    }
  });

  it("is metered, once, by the app's own global BudgetInterceptor", async () => {
    const { app, dataSource } = await bootAlone([{ provide: APP_INTERCEPTOR, useClass: BudgetInterceptor }]);
    try {
      const res = await request(app.getHttpServer()).get('/alone');
      expect(res.status).toBe(200);
      expect(res.headers['x-budget-remaining']).toMatch(/^4;/);
      expect(app.get(AloneController).ran).toBe(1);
    } finally {
      await app.close();
      await dataSource.destroy();
    }
  });
});
