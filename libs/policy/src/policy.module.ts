import { Module, type DynamicModule, type Provider, type Type } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, DiscoveryModule } from '@nestjs/core';
import { ApiKeyService } from './authentication/api-key.service';
import { AuthenticationGuard, POLICY_JWT_STRATEGY_TOKEN } from './authentication/authentication.guard';
import { PolicyJwtStrategy } from './authentication/policy-jwt.strategy';
import { RevocationService } from './authentication/revocation.service';
import { AuthorizationGuard } from './authorization/authorization.guard';
import { AuthorizationPolicy } from './authorization/authorization-policy';
import { ProductionAuthorizationPolicy } from './authorization/production-authorization.policy';
import { RouteInspector } from './authorization/route-inspector';
import { PolicyExceptionFilter } from './common/policy-exception.filter';
import { compileOptions, createRedis } from './policy-options.factory';
import { COMPILED_POLICY, POLICY_CLOCK, POLICY_MODULE_OPTIONS, POLICY_REDIS } from './policy.constants';
import type {
  PolicyModuleAsyncOptions,
  PolicyModuleOptions,
  PolicyOptionsFactory,
} from './policy-module-options.interface';
import { featureGuards, featureProviders, FEATURE_EXPORTS } from './policy-features.providers';
import { PolicyGuard } from './policy.guard';
import { RedisCloser } from './common/redis-closer';
import { keepNextTickShape } from './common/tick-shape';
import { TOOL_EXPORTS, TOOL_PROVIDERS } from './tools/tools.providers';

const COMPILED_OPTIONS = Symbol('POLICY:COMPILED_OPTIONS');

/**
 * Hardens every route of the app: authentication → rate limits → `AuthorizationGuard` → budgets, plus the audit log
 * and one error format. Global: import it once, in the root module. The app's TypeORM data source must include
 * `POLICY_ENTITIES` and run `POLICY_MIGRATIONS`.
 *
 * @example
 * @Module({
 *   imports: [
 *     TypeOrmModule.forRoot({ type: 'better-sqlite3', database: 'app.sqlite', entities: [...POLICY_ENTITIES], migrations: [...POLICY_MIGRATIONS], migrationsRun: true }),
 *     PolicyModule.forRoot({ jwt: { secret: process.env.JWT_SECRET }, roles: { admin: { operations: ['*'] } } }),
 *   ],
 * })
 * export class AppModule {}
 * @throws Error at init when an option is wrong, naming its key.
 */
@Module({})
export class PolicyModule {
  static forRoot(options: PolicyModuleOptions): DynamicModule {
    return this.build(
      [{ provide: POLICY_MODULE_OPTIONS, useValue: options }],
      options.policy,
      options.providers ?? [],
      [],
    );
  }

  static forRootAsync(options: PolicyModuleAsyncOptions): DynamicModule {
    const providers: Provider[] = [];
    if (options.useFactory) {
      providers.push({ provide: POLICY_MODULE_OPTIONS, useFactory: options.useFactory, inject: options.inject ?? [] });
    } else {
      const factoryClass = options.useClass ?? options.useExisting;
      if (!factoryClass) throw new Error('PolicyModule.forRootAsync: give useFactory, useClass or useExisting');
      if (options.useClass) providers.push({ provide: options.useClass, useClass: options.useClass });
      providers.push({
        provide: POLICY_MODULE_OPTIONS,
        useFactory: (factory: PolicyOptionsFactory) => factory.createPolicyOptions(),
        inject: [factoryClass],
      });
    }
    return this.build(providers, options.policy, options.providers ?? [], options.imports ?? []);
  }

  private static build(
    optionProviders: Provider[],
    policy: Type<unknown> | undefined,
    extra: Provider[],
    imports: NonNullable<PolicyModuleAsyncOptions['imports']>,
  ): DynamicModule {
    // Every request through the app's HTTP server makes 20–30 nextTick calls: keep their hidden class stable (best
    // done earlier still, by importing `nest-agent-policy/keep-next-tick-shape` first in the app's entry file).
    keepNextTickShape();
    const providers: Provider[] = [
      ...optionProviders,
      { provide: COMPILED_OPTIONS, useFactory: compileOptions, inject: [POLICY_MODULE_OPTIONS] },
      {
        provide: COMPILED_POLICY,
        useFactory: (c: ReturnType<typeof compileOptions>) => c.compiled,
        inject: [COMPILED_OPTIONS],
      },
      { provide: POLICY_CLOCK, useValue: () => Date.now() },
      {
        provide: POLICY_REDIS,
        useFactory: (o: PolicyModuleOptions) => createRedis(o.redisUrl),
        inject: [POLICY_MODULE_OPTIONS],
      },
      RevocationService,
      ApiKeyService,
      {
        provide: POLICY_JWT_STRATEGY_TOKEN,
        useFactory: (c: ReturnType<typeof compileOptions>, revocations: RevocationService) =>
          c.jwt ? new PolicyJwtStrategy(c.jwt, revocations) : null,
        inject: [COMPILED_OPTIONS, RevocationService],
      },
      {
        provide: AuthorizationPolicy,
        useClass: (policy ?? ProductionAuthorizationPolicy) as Type<AuthorizationPolicy>,
      },
      ...featureProviders(),
      ...TOOL_PROVIDERS,
      RouteInspector,
      // One global guard runs the steps in order: authentication, then the features' guards (the anomaly block,
      // rate limits: they count before authorization decides, so denied attempts are limited too), then
      // authorization. `@Budget()` adds the budget's own guard and interceptor to its routes only.
      AuthenticationGuard,
      ...featureGuards(),
      AuthorizationGuard,
      { provide: APP_GUARD, useClass: PolicyGuard },
      { provide: APP_FILTER, useClass: PolicyExceptionFilter },
      RedisCloser,
      ...extra,
    ];
    return {
      module: PolicyModule,
      global: true,
      imports: [DiscoveryModule, ...imports],
      providers,
      exports: [
        POLICY_MODULE_OPTIONS,
        COMPILED_POLICY,
        POLICY_CLOCK,
        POLICY_REDIS,
        AuthorizationPolicy,
        RevocationService,
        ApiKeyService,
        RouteInspector,
        ...FEATURE_EXPORTS,
        ...TOOL_EXPORTS,
      ],
    };
  }
}
