import { describe, expect, it } from '@jest/globals';
import { MicroBatch } from './micro-batch';

describe('MicroBatch', () => {
  it('sends the items added in one turn together, and each caller gets its own answer', async () => {
    const sent: number[][] = [];
    const batch = new MicroBatch<number, number>(async (items) => {
      sent.push(items);
      return items.map((n) => n * 10);
    }, 100);
    const answers = await Promise.all([1, 2, 3].map((n) => batch.add(n)));
    expect(answers).toEqual([10, 20, 30]);
    expect(sent).toEqual([[1, 2, 3]]);
    // A later turn is a new batch.
    expect(await batch.add(4)).toBe(40);
    expect(sent).toEqual([[1, 2, 3], [4]]);
  });

  it('sends a full batch at once, without waiting for the turn to end', async () => {
    const sent: number[][] = [];
    const batch = new MicroBatch<number, number>(async (items) => {
      sent.push(items);
      return items;
    }, 2);
    const pending = [1, 2, 3, 4, 5].map((n) => batch.add(n));
    expect(sent).toEqual([
      [1, 2],
      [3, 4],
    ]);
    await Promise.all(pending);
    expect(sent).toEqual([[1, 2], [3, 4], [5]]);
  });

  it('fails every item of a batch whose send fails, thrown or rejected, and the next batch still goes', async () => {
    let mode: 'throw' | 'reject' | 'ok' = 'throw';
    const batch = new MicroBatch<number, number>((items) => {
      if (mode === 'throw') throw new Error('down');
      if (mode === 'reject') return Promise.reject(new Error('refused'));
      return Promise.resolve(items);
    }, 10);
    await expect(Promise.all([batch.add(1), batch.add(2)])).rejects.toThrow('down');
    mode = 'reject';
    const settled = await Promise.allSettled([batch.add(1), batch.add(2)]);
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected']);
    mode = 'ok';
    await expect(batch.add(7)).resolves.toBe(7);
  });

  it('fails the batch when the answers do not match the items one to one', async () => {
    const batch = new MicroBatch<number, number>(async () => [1], 10);
    const settled = await Promise.allSettled([batch.add(1), batch.add(2)]);
    expect(settled).toEqual([
      { status: 'rejected', reason: new Error('A batch of 2 items got 1 answers') },
      { status: 'rejected', reason: new Error('A batch of 2 items got 1 answers') },
    ]);
  });
});
