/**
 * `@Throttle()` on a route works through the library's rate-limit guard, including a limit given as a function of
 * the request; what the guard cannot honour (another named throttler, a limit without a ttl) fails the boot with a
 * message naming the route, never a limit silently ignored.
 */
import { Controller, Get, type INestApplication, type Type } from '@nestjs/common';
import { Throttle } from '@nestjs/throttler';
import { Test } from '@nestjs/testing';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import { PolicyModule, RequireOperation, RequireScopes } from 'nest-agent-policy';
import { BASE_OPTIONS, PolicyTestAppModule, SECRET } from './policy-test.app';

const auth = `Bearer ${jwt.sign({ sub: 'u1', roles: ['reader'], scope: 'reports:read' }, SECRET, { algorithm: 'HS256', expiresIn: 600 })}`;

@Controller('limited')
@RequireOperation('report.read')
class FunctionLimitController {
  static asked = 0;
  @Get()
  @RequireScopes('reports:read')
  @Throttle({
    default: {
      limit: () => {
        FunctionLimitController.asked++;
        return 2;
      },
      ttl: 60_000,
    },
  })
  list() {
    return { ok: true };
  }
}

@Controller('named')
@RequireOperation('report.read')
class NamedThrottlerController {
  @Get()
  @Throttle({ burst: { limit: 3, ttl: 1000 } })
  list() {
    return { ok: true };
  }
}

@Controller('half')
@RequireOperation('report.read')
class LimitWithoutTtlController {
  @Get()
  @Throttle({ default: { limit: 3 } })
  list() {
    return { ok: true };
  }
}

async function boot(controllers: Type<unknown>[]): Promise<INestApplication> {
  const ref = await Test.createTestingModule({
    imports: [PolicyTestAppModule.with(PolicyModule.forRoot(BASE_OPTIONS), [], controllers)],
  }).compile();
  const app = ref.createNestApplication({ logger: false });
  try {
    await app.listen(0, '127.0.0.1');
  } catch (error) {
    await app.close().catch(() => undefined);
    throw error;
  }
  return app;
}

describe('@Throttle() with the library guard', () => {
  it('applies a limit given as a function, resolved per request', async () => {
    const app = await boot([FunctionLimitController]);
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++)
        statuses.push((await request(app.getHttpServer()).get('/limited').set('Authorization', auth)).status);
      expect(statuses).toEqual([200, 200, 429]);
      expect(FunctionLimitController.asked).toBe(3);
    } finally {
      await app.close();
    }
  });

  it('fails the boot for a throttler name the guard does not have, naming the route', async () => {
    await expect(boot([NamedThrottlerController])).rejects.toThrow(
      /NamedThrottlerController\.list names the throttler "burst"/,
    );
  });

  it('fails the boot for a limit without a ttl', async () => {
    await expect(boot([LimitWithoutTtlController])).rejects.toThrow(
      /LimitWithoutTtlController\.list needs both "limit" and "ttl"/,
    );
  });
});
