import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DataSource } from 'typeorm';
import { serializeSqliteTransactions } from './sqlite-connection';

describe('serializeSqliteTransactions', () => {
  let dataSource: DataSource;
  beforeAll(async () => {
    dataSource = await new DataSource({ type: 'better-sqlite3', database: ':memory:' }).initialize();
    await dataSource.query('CREATE TABLE "t" ("n" integer NOT NULL)');
  });
  afterAll(async () => dataSource?.destroy());

  const tick = () => new Promise((resolve) => setImmediate(resolve));
  const exchange = (n: number) =>
    dataSource.transaction(async (em) => {
      await em.query('INSERT INTO "t" ("n") VALUES (?)', [n]);
      await tick();
      await em.query('INSERT INTO "t" ("n") VALUES (?)', [-n]);
    });

  it('lets concurrent transactions run one at a time: all commit, none fails', async () => {
    serializeSqliteTransactions(dataSource);
    serializeSqliteTransactions(dataSource); // idempotent
    const results = await Promise.allSettled(Array.from({ length: 30 }, (_, i) => exchange(i + 1)));
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    const [{ count }] = await dataSource.query<Array<{ count: number }>>('SELECT COUNT(*) AS count FROM "t"');
    expect(Number(count)).toBe(60);
  });

  it('rolls back only the transaction that threw, and keeps the queue moving', async () => {
    await dataSource.query('DELETE FROM "t"');
    const failing = dataSource.transaction(async (em) => {
      await em.query('INSERT INTO "t" ("n") VALUES (1000)');
      await tick();
      throw new Error('handler failed');
    });
    const others = [exchange(1), exchange(2)];
    await expect(failing).rejects.toThrow('handler failed');
    await Promise.all(others);
    const rows = await dataSource.query<Array<{ n: number }>>('SELECT "n" FROM "t" ORDER BY "n"');
    expect(rows.map((r) => r.n)).toEqual([-2, -1, 1, 2]);
  });

  it('nests a transaction started inside another instead of waiting for itself', async () => {
    await expect(
      dataSource.transaction(async () => dataSource.transaction(async (em) => em.query('SELECT 1'))),
    ).resolves.toBeDefined();
  });
});
