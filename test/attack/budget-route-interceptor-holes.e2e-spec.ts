/**
 * `@Budget()` puts the budget's interceptor on its route. Two ways a call could escape or double its charge: a run
 * started again by an app's own interceptor around the route's (`retry()`) must be metered again, not passed
 * through as "already metered"; and an `@Sse()` call admitted by the budget's guard must be settled by whichever
 * interceptor meters it (an app's own global `BudgetInterceptor` too), reserving once.
 */
import {
  Controller,
  Get,
  Injectable,
  Sse,
  UseInterceptors,
  type CallHandler,
  type ExecutionContext,
  type INestApplication,
  type NestInterceptor,
  type Provider,
} from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import jwt from 'jsonwebtoken';
import { interval, map, retry, take, type Observable } from 'rxjs';
import request from 'supertest';
import {
  Budget,
  BudgetInterceptor,
  BudgetMeter,
  RequireOperation,
  RequireScopes,
  type PolicyModuleOptions,
} from 'nest-agent-policy';
import { bootPolicyApp, recordBudgetStore, SECRET, type RecordingBudgetStore } from '../policy-module/policy-test.app';

const auth = () =>
  `Bearer ${jwt.sign({ sub: 'u1', roles: ['reader'], scope: 'reports:read' }, SECRET, { algorithm: 'HS256', expiresIn: 600 })}`;

/** An ordinary app interceptor: retries a failed call once (flaky upstream). */
@Injectable()
class RetryOnce implements NestInterceptor {
  intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle().pipe(retry(1));
  }
}

@Controller('flaky')
@RequireOperation('report.read')
@UseInterceptors(RetryOnce)
class FlakyController {
  runs = 0;
  @Get()
  @RequireScopes('reports:read')
  @Budget({ requests: 1 })
  run() {
    if (this.runs++ % 2 === 0) throw new Error('upstream hiccup');
    return { ok: true };
  }
}

@Controller('feed')
class FeedController {
  @Sse('words')
  @RequireOperation('report.read')
  @RequireScopes('reports:read')
  @Budget({ model: 'echo-1', estimate: { inputTokens: 5, outputTokens: 20 } })
  words(@BudgetMeter() meter: BudgetMeter) {
    meter.record({ inputTokens: 5, outputTokens: 0 });
    return interval(1).pipe(
      take(3),
      map((i) => {
        meter.record({ inputTokens: 0, outputTokens: 1 });
        return { type: 'token', data: { text: `w${i}` } };
      }),
    );
  }
}

let store: RecordingBudgetStore;
const boot = (options: Partial<PolicyModuleOptions>, providers: Provider[] = []): Promise<INestApplication> =>
  bootPolicyApp(
    options,
    [FlakyController, FeedController],
    recordBudgetStore((made) => (store = made)),
    providers,
  );

describe('@Budget() route interceptor holes', () => {
  it('meters the attempt that runs when an app interceptor retries the call', async () => {
    const app = await boot({
      budgets: { principal: { day: { requests: 1 } } },
      pricing: { 'echo-1': { input: 0.5, output: 1.5 } },
    });
    try {
      const server = app.getHttpServer();
      // Attempt 1 throws (reserved, released), the retry succeeds: that run must be charged.
      const first = await request(server).get('/flaky').set('Authorization', auth());
      expect(first.status).toBe(200);
      expect(app.get(FlakyController).runs).toBe(2);
      expect(first.headers['x-budget-remaining']).toMatch(/^0;/);
      // The one request of the day is spent: the next call is refused, 402.
      const second = await request(server).get('/flaky').set('Authorization', auth());
      expect(second.status).toBe(402);
    } finally {
      await app.close();
    }
  });

  it('reserves an @Sse() call once when the app also registers its own global BudgetInterceptor', async () => {
    const app = await boot(
      { budgets: { global: { day: { tokens: 1000 } } }, pricing: { 'echo-1': { input: 0.5, output: 1.5 } } },
      [{ provide: APP_INTERCEPTOR, useClass: BudgetInterceptor }],
    );
    try {
      const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
      const res = await fetch(`${url}/feed/words`, { headers: { Authorization: auth() } });
      expect(res.status).toBe(200);
      expect((await res.text()).match(/^event: token$/gm)).toHaveLength(3);
      expect(store.reserves).toBe(1);
    } finally {
      await app.close();
    }
  });
});
