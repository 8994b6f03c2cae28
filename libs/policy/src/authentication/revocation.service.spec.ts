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

/** Instances sharing one table, each with its own clock: `find` honours the `revokedAt >=` watermark. */
function sharedTable() {
  const rows: Row[] = [];
  const dataSource = {
    getRepository: () => ({
      find: ({ where }: { where: { revokedAt: { value: number } } }) =>
        Promise.resolve(rows.filter((row) => row.revokedAt >= where.revokedAt.value).map((row) => ({ ...row }))),
    }),
    createQueryBuilder: () => {
      const chain = {
        insert: () => chain,
        into: () => chain,
        values: (row: Row) => {
          if (!rows.some((r) => r.jti === row.jti)) rows.push({ ...row });
          return chain;
        },
        orIgnore: () => chain,
        execute: () => Promise.resolve(),
      };
      return chain;
    },
  } as unknown as DataSource;
  const instance = (clock: { now: number }) => {
    const service = new RevocationService(dataSource, null, () => clock.now);
    (service as unknown as { logger: { warn: () => void } }).logger = { warn: () => undefined };
    return service;
  };
  return { rows, instance };
}

describe('RevocationService on instances whose clocks differ', () => {
  it('sees a revocation written by an instance whose clock is behind, through the table poll', async () => {
    const table = sharedTable();
    const ahead = { now: 10_000_000 };
    const behind = { now: ahead.now - 30_000 };
    const a = table.instance(ahead);
    const b = table.instance(behind);
    const advance = (ms: number) => {
      ahead.now += ms;
      behind.now += ms;
    };

    // The instance ahead revokes a token; both read the table.
    await a.revoke('first', null, 'admin');
    expect(await a.isRevoked('first')).toBe(true);
    expect(await b.isRevoked('first')).toBe(true);

    advance(a.refreshMs + 1);
    // The instance behind revokes another; the instance ahead must learn it from its next polls.
    await b.revoke('second', null, 'admin');
    for (let i = 0; i < 3; i++) {
      await a.isRevoked('second');
      await new Promise((resolve) => setImmediate(resolve));
      advance(a.refreshMs + 1);
    }
    expect(await a.isRevoked('second')).toBe(true);
  });

  it('sees it too when the instance behind writes before it has read the table once', async () => {
    const table = sharedTable();
    const ahead = { now: 10_000_000 };
    const behind = { now: ahead.now - 30_000 };
    const a = table.instance(ahead);
    await a.revoke('first', null, 'admin');
    expect(await a.isRevoked('first')).toBe(true);
    const b = table.instance(behind);
    await b.revoke('second', null, 'admin');
    for (let i = 0; i < 3; i++) {
      ahead.now += a.refreshMs + 1;
      await a.isRevoked('second');
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(await a.isRevoked('second')).toBe(true);
  });
});
