import { Injectable, Logger, Module, type INestApplication } from '@nestjs/common';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import {
  AuthorizationPolicy,
  DevelopmentAuthorizationPolicy,
  PolicyModule,
  RouteInspector,
  type PolicyModuleOptions,
  type PolicyOptionsFactory,
} from 'nest-agent-policy';
import { BASE_OPTIONS, BrokenPolicy, PolicyTestAppModule, ReportsOnlyPolicy, SECRET } from './policy-test.app';

const token = (claims: Record<string, unknown>) =>
  jwt.sign({ sub: 'u1', ...claims }, SECRET, { algorithm: 'HS256', expiresIn: 600 });
const reader = () => `Bearer ${token({ roles: ['reader'], scope: 'reports:write' })}`;

async function boot(
  module: ReturnType<typeof PolicyTestAppModule.with>,
  adapter: 'express' | 'fastify',
  configure?: (b: ReturnType<typeof Test.createTestingModule>) => void,
) {
  const builder = Test.createTestingModule({ imports: [module] });
  configure?.(builder);
  const ref = await builder.compile();
  const app: INestApplication =
    adapter === 'fastify'
      ? ref.createNestApplication(new FastifyAdapter(), { logger: false })
      : ref.createNestApplication({ logger: false });
  await app.listen(0, '127.0.0.1');
  return app;
}

describe.each(['express', 'fastify'] as const)('PolicyModule (%s)', (adapter) => {
  describe('forRoot with the production policy', () => {
    let app: INestApplication;
    beforeAll(async () => {
      app = await boot(PolicyTestAppModule.with(PolicyModule.forRoot(BASE_OPTIONS)), adapter);
    });
    afterAll(() => app.close());

    it('applies a class-level @RequireOperation with method-level scopes', async () => {
      const res = await request(app.getHttpServer()).get('/reports').set('Authorization', reader());
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ principal: 'u1' });
    });

    it('lets a method-level @RequireOperation win over the class', async () => {
      const noAgent = `Bearer ${token({ roles: ['reader'], scope: 'reports:read' })}`;
      expect((await request(app.getHttpServer()).get('/reports/agents').set('Authorization', noAgent)).status).toBe(
        200,
      );
      const admin = `Bearer ${token({ roles: ['nobody'], scope: 'reports:read' })}`;
      expect((await request(app.getHttpServer()).get('/reports/agents').set('Authorization', admin)).body.code).toBe(
        'forbidden',
      );
    });

    it('opens @Public routes to anonymous callers', async () => {
      const res = await request(app.getHttpServer()).get('/reports/open');
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ type: 'anonymous' });
    });

    it('denies a route with neither @RequireOperation nor @Public, and names it at boot', async () => {
      const res = await request(app.getHttpServer())
        .get('/forgotten')
        .set('Authorization', `Bearer ${token({ roles: ['admin'], scope: '*' })}`);
      expect(res.status).toBe(403);
      expect(res.body.code).toBe('forbidden');
      expect(res.body).not.toHaveProperty('leaked');
      expect(app.get(RouteInspector).unguarded).toEqual(['ForgottenController.secret']);
    });
  });

  describe('overriding the policy', () => {
    const allowedAndDenied = async (app: INestApplication) => {
      const auth = `Bearer ${token({ roles: ['admin'], scope: '*' })}`;
      expect((await request(app.getHttpServer()).get('/reports').set('Authorization', auth)).status).toBe(200);
      const denied = await request(app.getHttpServer()).get('/reports/agents').set('Authorization', auth);
      expect(denied.status).toBe(403);
      expect(denied.body.code).toBe('forbidden');
      await app.close();
    };

    it('with forRoot({ policy })', async () => {
      await allowedAndDenied(
        await boot(
          PolicyTestAppModule.with(PolicyModule.forRoot({ ...BASE_OPTIONS, policy: ReportsOnlyPolicy })),
          adapter,
        ),
      );
    });

    it('with { provide: AuthorizationPolicy, useClass } among the module providers', async () => {
      const module = PolicyModule.forRoot({
        ...BASE_OPTIONS,
        providers: [{ provide: AuthorizationPolicy, useClass: ReportsOnlyPolicy }],
      });
      await allowedAndDenied(await boot(PolicyTestAppModule.with(module), adapter));
    });

    it('with overrideProvider(AuthorizationPolicy) in a testing module', async () => {
      const app = await boot(PolicyTestAppModule.with(PolicyModule.forRoot(BASE_OPTIONS)), adapter, (b) => {
        b.overrideProvider(AuthorizationPolicy).useClass(ReportsOnlyPolicy);
      });
      await allowedAndDenied(app);
    });

    it('denies when the policy throws (fail closed)', async () => {
      const app = await boot(
        PolicyTestAppModule.with(PolicyModule.forRoot({ ...BASE_OPTIONS, policy: BrokenPolicy })),
        adapter,
      );
      const res = await request(app.getHttpServer())
        .get('/reports')
        .set('Authorization', `Bearer ${token({ roles: ['admin'], scope: '*' })}`);
      expect(res.status).toBe(403);
      expect(JSON.stringify(res.body)).not.toContain('exploded');
      await app.close();
    });
  });
});

describe('PolicyModule.forRootAsync', () => {
  @Injectable()
  class OptionsFactory implements PolicyOptionsFactory {
    createPolicyOptions(): PolicyModuleOptions {
      return BASE_OPTIONS;
    }
  }
  @Module({ providers: [OptionsFactory], exports: [OptionsFactory] })
  class OptionsModule {}

  it.each([
    ['useFactory', PolicyModule.forRootAsync({ useFactory: async () => BASE_OPTIONS })],
    ['useClass', PolicyModule.forRootAsync({ useClass: OptionsFactory })],
    ['useExisting', PolicyModule.forRootAsync({ imports: [OptionsModule], useExisting: OptionsFactory })],
  ])('builds the module with %s', async (_name, module) => {
    const app = await boot(PolicyTestAppModule.with(module), 'express');
    expect((await request(app.getHttpServer()).get('/reports').set('Authorization', reader())).status).toBe(200);
    await app.close();
  });
});

describe('PolicyModule options are checked at init', () => {
  beforeAll(() => Logger.overrideLogger(false));

  it.each([
    [
      'an unknown role in inherits',
      { roles: { a: { operations: ['agent.read'], inherits: ['ghost'] } } },
      /roles\.a\.inherits\[0\]: unknown role "ghost"/,
    ],
    ['a pattern matching no operation', { roles: { a: { operations: ['agnt.*'] } } }, /roles\.a\.operations\[0\]/],
    ['a weak HS256 secret', { jwt: { secret: 'short' } }, /jwt\.secret/],
    ['no key in production', { jwt: {} }, /jwt\.secret/],
    ['an unknown option', { rolez: {} }, /rolez: unknown policy key/],
    [
      'a misspelled nested key',
      { rateLimits: { defualt: { limit: 1, ttl: 60 } } },
      /rateLimits\.defualt: unknown key \(did you mean "default"\?\)/,
    ],
    [
      'a misspelled JWT option',
      { jwt: { secret: 'x'.repeat(40), secert: 'y' } },
      /jwt\.secert: unknown key \(did you mean "secret"\?\)/,
    ],
  ])('fails on %s, naming the key', async (_name, patch, message) => {
    const options = { ...BASE_OPTIONS, ...patch } as PolicyModuleOptions;
    await expect(
      Test.createTestingModule({ imports: [PolicyTestAppModule.with(PolicyModule.forRoot(options))] }).compile(),
    ).rejects.toThrow(message);
  });

  it('refuses the development policy when NODE_ENV=production', async () => {
    const previous = process.env.NODE_ENV;
    process.env.NODE_ENV = 'production';
    try {
      await expect(
        Test.createTestingModule({
          imports: [
            PolicyTestAppModule.with(PolicyModule.forRoot({ ...BASE_OPTIONS, policy: DevelopmentAuthorizationPolicy })),
          ],
        }).compile(),
      ).rejects.toThrow(/production/);
    } finally {
      process.env.NODE_ENV = previous;
    }
  });
});
