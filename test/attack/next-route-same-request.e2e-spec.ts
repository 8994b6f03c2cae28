/**
 * On Express a handler that calls `next()` hands the same request to the next matching route, and the global guard
 * runs again for it. Each route is decided by its own decorators and its own decision context: a `@Public()` route
 * that passes the request on never lends its openness to a protected one, and a route's required scopes are never
 * those of a route the request passed before.
 */
import { Controller, Get, Next, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import { PolicyModule, Public, RequireOperation, RequireScopes } from 'nest-agent-policy';
import { BASE_OPTIONS, PolicyTestAppModule, SECRET } from '../policy-module/policy-test.app';

const bearer = (scope: string) =>
  `Bearer ${jwt.sign({ sub: 'u1', roles: ['reader'], scope }, SECRET, { algorithm: 'HS256', expiresIn: 600 })}`;

@Controller('chained')
class ChainedController {
  @Get('open-first')
  @Public()
  openFirst(@Next() next: () => void) {
    next();
  }

  @Get('open-first')
  @RequireOperation('report.read')
  protectedAfterOpen() {
    return { reached: 'protected' };
  }

  @Get('scoped-first')
  @RequireOperation('report.read')
  @RequireScopes('reports:read')
  scopedFirst(@Next() next: () => void) {
    next();
  }

  @Get('scoped-first')
  @RequireOperation('report.read')
  @RequireScopes('reports:write')
  writeScopedAfter() {
    return { reached: 'write-scoped' };
  }
}

describe('attack: one request passed on to a second route (Express next())', () => {
  let app: INestApplication;

  beforeAll(async () => {
    const ref = await Test.createTestingModule({
      imports: [
        PolicyTestAppModule.with(
          PolicyModule.forRoot({ ...BASE_OPTIONS, rateLimits: { default: { limit: 1000, ttl: 60 } } }),
          [],
          [ChainedController],
        ),
      ],
    }).compile();
    app = ref.createNestApplication({ logger: false });
    await app.listen(0, '127.0.0.1');
  });
  afterAll(async () => {
    await app?.close();
  });

  it('asks the protected route for credentials after a public route passed the request on', async () => {
    const res = await request(app.getHttpServer()).get('/chained/open-first');
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ code: 'unauthenticated' });
    expect(JSON.stringify(res.body)).not.toContain('protected');
    const ok = await request(app.getHttpServer()).get('/chained/open-first').set('Authorization', bearer('x'));
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ reached: 'protected' });
  });

  it("checks the second route's own scopes, not the first route's", async () => {
    const res = await request(app.getHttpServer())
      .get('/chained/scoped-first')
      .set('Authorization', bearer('reports:read'));
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ code: 'insufficient_scope' });
    const ok = await request(app.getHttpServer())
      .get('/chained/scoped-first')
      .set('Authorization', bearer('reports:write'));
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ reached: 'write-scoped' });
  });
});
