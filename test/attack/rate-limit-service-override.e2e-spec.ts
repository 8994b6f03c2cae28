/**
 * `RateLimitService` is exported and provided by token; an app may replace it with a subclass whose `consume` adds
 * its own rule. The memory storage's fast lane (`consumeNow`) steps aside for an overridden `consume`, which is then
 * asked on every request and its refusal honoured.
 */
import { type INestApplication } from '@nestjs/common';
import { getStorageToken, type ThrottlerStorage } from '@nestjs/throttler';
import { Test } from '@nestjs/testing';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import { PolicyModule, RateLimitService, type RateLimitBucket, type RateLimitOutcome } from 'nest-agent-policy';
import { BASE_OPTIONS, PolicyTestAppModule, SECRET } from '../policy-module/policy-test.app';

const auth = `Bearer ${jwt.sign({ sub: 'u1', roles: ['reader'], scope: 'reports:read' }, SECRET, { algorithm: 'HS256', expiresIn: 600 })}`;

/** A service with a kill switch: while `frozen`, every call is refused. */
class FreezableRateLimitService extends RateLimitService {
  frozen = false;
  calls = 0;
  override async consume(buckets: readonly RateLimitBucket[]): Promise<RateLimitOutcome> {
    this.calls++;
    const outcome = await super.consume(buckets);
    return this.frozen ? { ...outcome, allowed: false, remaining: 0, retryAfterSeconds: 60 } : outcome;
  }
}

describe('attack: an overridden RateLimitService.consume is bypassed by the memory fast lane', () => {
  let app: INestApplication;
  let service: FreezableRateLimitService;

  beforeAll(async () => {
    const ref = await Test.createTestingModule({
      imports: [PolicyTestAppModule.with(PolicyModule.forRoot(BASE_OPTIONS))],
    })
      .overrideProvider(RateLimitService)
      .useFactory({
        factory: (storage: ThrottlerStorage) => new FreezableRateLimitService(storage, {}),
        inject: [getStorageToken()],
      })
      .compile();
    app = ref.createNestApplication({ logger: false });
    await app.listen(0, '127.0.0.1');
    service = app.get(RateLimitService);
  });

  afterAll(async () => {
    await app?.close();
  });

  it('asks the overridden consume() on every request and honours its refusal', async () => {
    expect(service).toBeInstanceOf(FreezableRateLimitService);
    const server = app.getHttpServer();
    expect((await request(server).get('/reports').set('Authorization', auth)).status).toBe(200);
    service.frozen = true;
    expect((await request(server).get('/reports').set('Authorization', auth)).status).toBe(429);
    expect(service.calls).toBe(2);
  });
});
