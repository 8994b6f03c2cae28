import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import {
  BadRequestException,
  Body,
  Controller,
  Get,
  Injectable,
  Logger,
  Post,
  type CanActivate,
  type ExecutionContext,
  type INestApplication,
} from '@nestjs/common';
import { APP_GUARD, APP_INTERCEPTOR } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { DataSource } from 'typeorm';
import type { Principal } from '../authentication/principal.interface';
import { PRINCIPAL_REQUEST_KEY } from '../policy.constants';
import { BudgetUsage } from './budget-usage.recorder';
import { Budget } from './budget.decorator';
import { BudgetInterceptor } from './budget.interceptor';
import { BUDGET_ENTITIES, BUDGET_MIGRATIONS } from './budget.persistence';
import { BudgetService } from './budget.service';
import { DatabaseBudgetStore } from './database-budget.store';

/** Stands in for authentication: the caller is named by `x-user`. */
@Injectable()
class TestPrincipalGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<Record<string, unknown> & { headers: Record<string, string> }>();
    const principal: Principal = {
      id: req.headers['x-user'],
      type: 'user',
      tenantId: null,
      roles: [],
      scopes: [],
      tier: null,
      tokenId: null,
    };
    req[PRINCIPAL_REQUEST_KEY] = principal;
    return true;
  }
}

@Controller('calls')
@Budget({ model: 'echo-1', estimate: { inputTokens: 1_000, outputTokens: 1_000 } })
class CallsController {
  @Post('reported')
  reported(@BudgetUsage() usage: BudgetUsage) {
    usage.report({ inputTokens: 1_000, outputTokens: 200 });
    return { ok: true };
  }

  @Post('returned')
  returned() {
    return { reply: 'hi', usage: { inputTokens: 2_000, outputTokens: 400 } };
  }

  @Post('estimated')
  @Budget<{ body: { tokens: number } }>({
    model: 'echo-1',
    estimate: (req) => ({ inputTokens: req.body.tokens, outputTokens: 0 }),
  })
  estimated(@Body() body: { tokens: number }) {
    return { usage: { inputTokens: body.tokens, outputTokens: 0 } };
  }

  @Post('fails')
  fails(): never {
    throw new BadRequestException('no');
  }
}

@Controller('free')
class FreeController {
  @Get()
  free() {
    return { ok: true };
  }
}

describe.each(['express', 'fastify'] as const)('BudgetInterceptor on %s', (platform) => {
  let app: INestApplication;
  let dataSource: DataSource;
  let service: BudgetService;
  const user = (id: string): Principal => ({
    id,
    type: 'user',
    tenantId: null,
    roles: [],
    scopes: [],
    tier: null,
    tokenId: null,
  });

  beforeAll(async () => {
    dataSource = await new DataSource({
      type: 'better-sqlite3',
      database: ':memory:',
      entities: BUDGET_ENTITIES,
      migrations: BUDGET_MIGRATIONS,
    }).initialize();
    await dataSource.runMigrations();
    // $0.01 a day: 1,000 input + 1,000 output tokens of echo-1 reserve $0.002.
    service = new BudgetService(
      new DatabaseBudgetStore(dataSource),
      { principal: { day: { cost: 0.01 } } },
      { 'echo-1': { input: 0.5, output: 1.5 } },
    );
    const moduleRef = await Test.createTestingModule({
      controllers: [CallsController, FreeController],
      providers: [
        { provide: BudgetService, useValue: service },
        { provide: APP_GUARD, useClass: TestPrincipalGuard },
        { provide: APP_INTERCEPTOR, useClass: BudgetInterceptor },
      ],
    }).compile();
    app =
      platform === 'fastify'
        ? moduleRef.createNestApplication(new FastifyAdapter())
        : moduleRef.createNestApplication();
    await app.init();
    if (platform === 'fastify') await app.getHttpAdapter().getInstance().ready();
  });
  afterAll(async () => {
    await app?.close();
    await dataSource?.destroy();
  });

  const used = async (id: string) => (await service.remaining(user(id))).budgets[0];

  it('settles to the usage reported through @BudgetUsage() and sets the budget headers', async () => {
    const res = await request(app.getHttpServer()).post('/calls/reported').set('x-user', 'a').expect(201);
    // 1,000 × $0.5/1M + 200 × $1.5/1M = $0.0008
    expect(await used('a')).toMatchObject({ used: 0.0008, reserved: 0, remaining: 0.0092 });
    expect(res.headers['x-budget-remaining']).toBe('0.0092; unit=cost; scope=principal; period=day');
    expect(Number(res.headers['x-budget-reset'])).toBeGreaterThan(0);
    expect(res.headers['x-budget-warning']).toBeUndefined();
  });

  it('accepts the usage returned in the response body', async () => {
    await request(app.getHttpServer()).post('/calls/returned').set('x-user', 'b').expect(201);
    expect(await used('b')).toMatchObject({ used: 0.0016, reserved: 0 });
  });

  it('reserves an estimate computed from the request, and answers 402 when it does not fit', async () => {
    const fits = await request(app.getHttpServer())
      .post('/calls/estimated')
      .set('x-user', 'c')
      .send({ tokens: 18_000 })
      .expect(201);
    expect(fits.headers['x-budget-warning']).toBe('90');
    const refused = await request(app.getHttpServer())
      .post('/calls/estimated')
      .set('x-user', 'c')
      .send({ tokens: 4_000 })
      .expect(402);
    expect(refused.body).toMatchObject({
      statusCode: 402,
      code: 'budget_exceeded',
      scope: 'principal',
      period: 'day',
      unit: 'cost',
    });
    expect(await used('c')).toMatchObject({ used: 0.009, reserved: 0 });
  });

  it('releases the reservation when the handler fails', async () => {
    await request(app.getHttpServer()).post('/calls/fails').set('x-user', 'd').expect(400);
    expect(await used('d')).toMatchObject({ used: 0, reserved: 0 });
  });

  it('still answers when settlement fails after the handler succeeded', async () => {
    const settle = jest.spyOn(service, 'settle').mockRejectedValueOnce(new Error('store down'));
    const logged = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    const res = await request(app.getHttpServer()).post('/calls/reported').set('x-user', 'f').expect(201);
    expect(res.body).toEqual({ ok: true });
    expect(settle).toHaveBeenCalledTimes(1);
    expect(logged).toHaveBeenCalledWith(expect.stringContaining('store down'));
    settle.mockRestore();
    logged.mockRestore();
  });

  it('leaves routes without @Budget alone', async () => {
    const res = await request(app.getHttpServer()).get('/free').set('x-user', 'e').expect(200);
    expect(res.headers['x-budget-remaining']).toBeUndefined();
  });
});

describe('BudgetInterceptor with approvalAbovePercent and no approval store', () => {
  let app: INestApplication;
  let dataSource: DataSource;
  let service: BudgetService;

  beforeAll(async () => {
    dataSource = await new DataSource({
      type: 'better-sqlite3',
      database: ':memory:',
      entities: BUDGET_ENTITIES,
      migrations: BUDGET_MIGRATIONS,
    }).initialize();
    await dataSource.runMigrations();
    // Each call reserves $0.002 of $0.01: the third takes the budget to 60%, past the 50% threshold.
    service = new BudgetService(
      new DatabaseBudgetStore(dataSource),
      { approvalAbovePercent: 50, principal: { day: { cost: 0.01 } } },
      { 'echo-1': { input: 0.5, output: 1.5 } },
    );
    const moduleRef = await Test.createTestingModule({
      controllers: [CallsController],
      providers: [
        { provide: BudgetService, useValue: service },
        { provide: APP_GUARD, useClass: TestPrincipalGuard },
        { provide: APP_INTERCEPTOR, useClass: BudgetInterceptor },
      ],
    }).compile();
    app = moduleRef.createNestApplication();
    await app.init();
  });
  afterAll(async () => {
    await app?.close();
    await dataSource?.destroy();
  });

  it('fails closed: past the threshold the call is refused and its reservation given back', async () => {
    const principal: Principal = {
      id: 'g',
      type: 'user',
      tenantId: null,
      roles: [],
      scopes: [],
      tier: null,
      tokenId: null,
    };
    // Reported usage is the whole estimate, so each call charges $0.002.
    const send = () => request(app.getHttpServer()).post('/calls/estimated').set('x-user', 'g').send({ tokens: 4_000 });
    await send().expect(201);
    await send().expect(201);
    const refused = await send().expect(403);
    expect(refused.body).toMatchObject({ statusCode: 403, code: 'forbidden' });
    expect((await service.remaining(principal)).budgets[0]).toMatchObject({ used: 0.004, reserved: 0 });
  });
});
