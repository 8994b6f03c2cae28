import { describe, expect, it, jest } from '@jest/globals';
import { HttpException } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { HealthController, LIVENESS_REUSE_MS } from './health.controller';

function controller(query: () => Promise<unknown>) {
  const calls = jest.fn(query);
  return { health: new HealthController({ query: calls } as unknown as DataSource, null), calls };
}

describe('HealthController liveness', () => {
  it('answers concurrent probes with one database check', async () => {
    const { health, calls } = controller(async () => [{ 1: 1 }]);
    const bodies = await Promise.all([health.health(), health.health(), health.health()]);
    expect(calls).toHaveBeenCalledTimes(1);
    for (const body of bodies) expect(body).toEqual({ status: 'ok', database: 'up', redis: 'disabled' });
  });

  it(`checks again once the last check is ${LIVENESS_REUSE_MS} ms old, and answers 503 when the database is down`, async () => {
    let up = true;
    const { health, calls } = controller(async () => {
      if (!up) throw new Error('database down');
      return [];
    });
    await expect(health.health()).resolves.toMatchObject({ status: 'ok' });
    up = false;
    await expect(health.health()).resolves.toMatchObject({ status: 'ok' });
    expect(calls).toHaveBeenCalledTimes(1);
    await new Promise((resolve) => setTimeout(resolve, LIVENESS_REUSE_MS + 20));
    const failed = await health.health().catch((err: unknown) => err);
    expect(calls).toHaveBeenCalledTimes(2);
    expect(failed).toBeInstanceOf(HttpException);
    expect((failed as HttpException).getStatus()).toBe(503);
    expect((failed as HttpException).getResponse()).toMatchObject({ code: 'unavailable', database: 'down' });
  });
});
