import { describe, expect, it } from '@jest/globals';
import type { DataSource } from 'typeorm';
import { RevocationService } from './revocation.service';

interface Row {
  jti: string;
  revokedAt: number;
  expiresAt: number | null;
}

/** A table whose reads the test resolves or fails by hand, and a clock it moves. */
function setup() {
  let now = 1_000_000;
  const rows: Row[] = [];
  const pending: { resolve: (rows: Row[]) => void; reject: (err: Error) => void }[] = [];
  const dataSource = {
    getRepository: () => ({
      find: () => new Promise<Row[]>((resolve, reject) => pending.push({ resolve, reject })),
    }),
  } as unknown as DataSource;
  const service = new RevocationService(dataSource, null, () => now);
  (service as unknown as { logger: { warn: () => void } }).logger = { warn: () => undefined };
  return {
    service,
    rows,
    pending,
    advance: (ms: number) => (now += ms),
    answer: () => pending.shift()!.resolve([...rows]),
    fail: () => pending.shift()!.reject(new Error('database down')),
  };
}

const settled = async <T>(promise: Promise<T>): Promise<'pending' | T> =>
  Promise.race([promise, new Promise<'pending'>((resolve) => setImmediate(() => resolve('pending')))]);

describe('RevocationService', () => {
  it('waits for the first read of the table', async () => {
    const t = setup();
    const check = t.service.isRevoked('a');
    expect(await settled(check)).toBe('pending');
    t.rows.push({ jti: 'a', revokedAt: 1, expiresAt: null });
    t.answer();
    await expect(check).resolves.toBe(true);
  });

  it('answers from its copy while a re-read runs in the background, and sees the new rows once it is done', async () => {
    const t = setup();
    const first = t.service.isRevoked('b');
    t.answer();
    await expect(first).resolves.toBe(false);

    t.advance(t.service.refreshMs + 1);
    t.rows.push({ jti: 'b', revokedAt: 1_000_500, expiresAt: null });
    // Past refreshMs: the check does not wait for the table; it starts one read only.
    await expect(settled(t.service.isRevoked('b'))).resolves.toBe(false);
    await expect(settled(t.service.isRevoked('b'))).resolves.toBe(false);
    expect(t.pending).toHaveLength(1);
    t.answer();
    await new Promise((resolve) => setImmediate(resolve));
    await expect(settled(t.service.isRevoked('b'))).resolves.toBe(true);
    expect(t.pending).toHaveLength(0);
  });

  it('fails closed once its copy is older than maxStaleMs and the table cannot be read', async () => {
    const t = setup();
    const first = t.service.isRevoked('c');
    t.answer();
    await first;

    t.advance(t.service.refreshMs + 1);
    await expect(t.service.isRevoked('c')).resolves.toBe(false);
    t.fail();
    await new Promise((resolve) => setImmediate(resolve));

    t.advance(t.service.maxStaleMs);
    const stale = t.service.isRevoked('c');
    expect(await settled(stale)).toBe('pending');
    t.fail();
    await expect(stale).rejects.toThrow('database down');

    // Once the table answers again, checks go on from the fresh copy.
    const recovered = t.service.isRevoked('c');
    t.answer();
    await expect(recovered).resolves.toBe(false);
  });
});
