/**
 * The rate-limit guard remembers each route's mode (policy buckets, `@SkipThrottle()`, `@Throttle()`) per route:
 * controller class × handler. Two controllers that inherit the same method from a base class are two routes, so a
 * class-level `@SkipThrottle()` on one never switches the rate limits off for the other, and a class-level
 * `@Throttle()` on one applies whichever controller was called first.
 */
import { Controller, Get, type INestApplication, type Type } from '@nestjs/common';
import { SkipThrottle, Throttle } from '@nestjs/throttler';
import { Test } from '@nestjs/testing';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import { PolicyModule, RequireOperation } from 'nest-agent-policy';
import { BASE_OPTIONS, PolicyTestAppModule, SECRET } from '../policy-module/policy-test.app';

const auth = `Bearer ${jwt.sign({ sub: 'u1', roles: ['reader'] }, SECRET, { algorithm: 'HS256', expiresIn: 600 })}`;

abstract class ReportsBase {
  @Get()
  list() {
    return { ok: true };
  }
}

@SkipThrottle()
@RequireOperation('report.read')
@Controller('internal-reports')
class InternalReportsController extends ReportsBase {}

@RequireOperation('report.read')
@Controller('public-reports')
class PublicReportsController extends ReportsBase {}

@RequireOperation('report.read')
@Controller('plain-exports')
class PlainExportsController extends ReportsBase {}

@Throttle({ default: { limit: 1, ttl: 60_000 } })
@RequireOperation('report.read')
@Controller('strict-exports')
class StrictExportsController extends ReportsBase {}

async function boot(controllers: Type<unknown>[], limit: number): Promise<INestApplication> {
  const ref = await Test.createTestingModule({
    imports: [
      PolicyTestAppModule.with(
        PolicyModule.forRoot({ ...BASE_OPTIONS, rateLimits: { default: { limit, ttl: 60 } } }),
        [],
        controllers,
      ),
    ],
  }).compile();
  const app = ref.createNestApplication({ logger: false });
  await app.listen(0, '127.0.0.1');
  return app;
}

describe('attack: class-level @Throttle() ignored on a handler shared with an undecorated controller', () => {
  let app: INestApplication;
  beforeAll(async () => {
    app = await boot([PlainExportsController, StrictExportsController], 100);
  });
  afterAll(async () => {
    await app?.close();
  });

  it('applies the route limit of 1 per minute after the undecorated controller was called', async () => {
    const server = app.getHttpServer();
    expect((await request(server).get('/plain-exports').set('Authorization', auth)).status).toBe(200);
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++)
      statuses.push((await request(server).get('/strict-exports').set('Authorization', auth)).status);
    expect(statuses).toEqual([200, 429, 429]);
  });
});

describe('attack: @SkipThrottle() on one controller leaks to another sharing the inherited handler', () => {
  let app: INestApplication;

  beforeAll(async () => {
    app = await boot([InternalReportsController, PublicReportsController], 2);
  });

  afterAll(async () => {
    await app?.close();
  });

  it('still limits the controller without @SkipThrottle() after the skipped one was called', async () => {
    const server = app.getHttpServer();
    // One call to the skipped controller first (a health probe, an internal caller...).
    expect((await request(server).get('/internal-reports').set('Authorization', auth)).status).toBe(200);
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++)
      statuses.push((await request(server).get('/public-reports').set('Authorization', auth)).status);
    // limit 2 per minute on the principal's default bucket
    expect(statuses).toEqual([200, 200, 429, 429]);
  });
});
