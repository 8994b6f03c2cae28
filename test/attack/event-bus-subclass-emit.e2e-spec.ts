/**
 * `PolicyEventBus` is exported and is the default `POLICY_EVENTS` sink; an app that extends it and overrides `emit`
 * (to forward every decision to its own pipeline) sees every event: the authorization guard's fast lane (`emitNow`)
 * steps aside for an overridden `emit`.
 */
import { Injectable, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import { POLICY_EVENTS, PolicyEventBus, PolicyModule, type PolicyEvent } from 'nest-agent-policy';
import { BASE_OPTIONS, PolicyTestAppModule, SECRET } from '../policy-module/policy-test.app';

const auth = (roles: string[]) =>
  `Bearer ${jwt.sign({ sub: 'u1', roles, scope: 'reports:read' }, SECRET, { algorithm: 'HS256', expiresIn: 600 })}`;

const forwarded: string[] = [];

@Injectable()
class ForwardingEventBus extends PolicyEventBus {
  override async emit(event: PolicyEvent): Promise<void> {
    forwarded.push(event.type); // e.g. to a message queue
    await super.emit(event);
  }
}

describe('attack: a PolicyEventBus subclass overriding emit() misses authorization decisions', () => {
  let app: INestApplication;

  beforeAll(async () => {
    const ref = await Test.createTestingModule({
      imports: [PolicyTestAppModule.with(PolicyModule.forRoot(BASE_OPTIONS))],
    })
      .overrideProvider(POLICY_EVENTS)
      .useClass(ForwardingEventBus)
      .compile();
    app = ref.createNestApplication({ logger: false });
    await app.listen(0, '127.0.0.1');
  });

  afterAll(async () => {
    await app?.close();
  });

  it('forwards the grant, the denial and the auth failure through the overridden emit()', async () => {
    const server = app.getHttpServer();
    expect(app.get(POLICY_EVENTS)).toBeInstanceOf(ForwardingEventBus);
    expect(
      (
        await request(server)
          .get('/reports')
          .set('Authorization', auth(['reader']))
      ).status,
    ).toBe(200);
    expect(
      (
        await request(server)
          .get('/reports/agents')
          .set('Authorization', auth(['nobody']))
      ).status,
    ).toBe(403);
    expect((await request(server).get('/reports').set('Authorization', 'Bearer not-a-token')).status).toBe(401);
    expect(forwarded).toEqual(['access.granted', 'access.denied', 'auth.failure']);
  });
});
