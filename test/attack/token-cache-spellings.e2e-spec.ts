/**
 * One valid bearer token in many spellings of its header (`bearer`, several spaces, a tab) must neither take more
 * than one place in the guard's verified-token cache (whose entries are bounded in number, not in size) nor be
 * refused: a caller holding one token cannot fill the cache or push other callers' tokens out of it.
 */
import type { INestApplication } from '@nestjs/common';
import type { AddressInfo } from 'node:net';
import jwt from 'jsonwebtoken';
import { AuthenticationGuard } from 'nest-agent-policy';
import { bootPolicyApp, ReportsController, SECRET } from '../policy-module/policy-test.app';
import { get, keepAlive } from '../support/http-client';

describe('verified-token cache: one entry per token, whatever the header spelling', () => {
  let app: INestApplication;
  let port: number;
  beforeAll(async () => {
    app = await bootPolicyApp({}, [ReportsController]);
    port = (app.getHttpServer().address() as AddressInfo).port;
  });
  afterAll(async () => {
    keepAlive.destroy();
    await app.close();
  });

  const cacheSize = (): number => {
    const guard: unknown = app.get(AuthenticationGuard, { strict: false });
    return (guard as { tokens: { entries: Map<string, unknown> } }).tokens.entries.size;
  };

  it('answers every spelling of a valid token and keeps one entry for it', async () => {
    const token = jwt.sign({ sub: 'spell', roles: ['reader'], scope: 'reports:read' }, SECRET, {
      algorithm: 'HS256',
      expiresIn: 600,
    });
    const before = cacheSize();
    const spellings = [
      `Bearer ${token}`,
      `bearer ${token}`,
      `BEARER ${token}`,
      `Bearer\t${token}`,
      ...Array.from({ length: 40 }, (_, i) => `Bearer${' '.repeat(i + 2)}${token}`),
    ];
    for (const authorization of spellings) {
      const res = await get(port, '/reports', { Authorization: authorization });
      expect({ spelling: authorization.slice(0, 12), status: res.status, principal: res.body.principal }).toEqual({
        spelling: authorization.slice(0, 12),
        status: 200,
        principal: 'spell',
      });
    }
    expect(cacheSize() - before).toBe(1);
    // A malformed header is still refused (no token after the scheme, or a token with a space inside).
    expect((await get(port, '/reports', { Authorization: 'Bearer ' })).status).toBe(401);
    expect((await get(port, '/reports', { Authorization: `Bearer ${token} x` })).status).toBe(401);
  });
});
