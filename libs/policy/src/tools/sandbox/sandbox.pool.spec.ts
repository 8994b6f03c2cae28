import { describe, expect, it } from '@jest/globals';
import { SandboxFailedError } from './sandbox.errors';
import { SandboxPool, type PooledProcess } from './sandbox.pool';

class FakeProcess implements PooledProcess {
  readonly ready: Promise<void>;
  alive = true;
  killed = false;
  private listeners: Array<() => void> = [];
  start!: () => void;
  fail!: (err: Error) => void;

  constructor() {
    this.ready = new Promise<void>((resolve, reject) => {
      this.start = resolve;
      this.fail = reject;
    });
    this.ready.catch(() => undefined);
  }

  whenGone(listener: () => void): void {
    this.listeners.push(listener);
  }

  kill(): void {
    this.killed = true;
    this.die();
  }

  die(): void {
    if (!this.alive) return;
    this.alive = false;
    for (const l of this.listeners.splice(0)) l();
  }
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

function pool(size: number, maxStarting = 4) {
  const started: FakeProcess[] = [];
  const p = new SandboxPool(
    () => {
      const f = new FakeProcess();
      started.push(f);
      return f;
    },
    size,
    maxStarting,
  );
  return { p, started };
}

describe('SandboxPool', () => {
  it('hands out a started process and starts its replacement once it is gone, keeping `size` waiting', async () => {
    const { p, started } = pool(2);
    await expect(Promise.race([p.warm(), flush().then(() => 'pending')])).resolves.toBe('pending');
    expect(started).toHaveLength(2);
    started.forEach((f) => f.start());
    await flush();
    expect(p.warmCount).toBe(2);
    const first = await p.acquire();
    expect(first).toBe(started[0]);
    expect(started).toHaveLength(2);
    first.die();
    expect(started).toHaveLength(3);
    started[2].start();
    await flush();
    expect(p.warmCount).toBe(2);
    const second = await p.acquire();
    expect(second).toBe(started[1]);
  });

  it('makes callers wait, in order, when no process is ready, starting one each', async () => {
    const { p, started } = pool(0);
    const a = p.acquire();
    const b = p.acquire();
    await flush();
    expect(started).toHaveLength(2);
    started[1].start();
    started[0].start();
    await expect(a).resolves.toBe(started[1]);
    await expect(b).resolves.toBe(started[0]);
  });

  it('never starts more than maxStarting at once', async () => {
    const { p, started } = pool(0, 1);
    const calls = [p.acquire(), p.acquire(), p.acquire()];
    await flush();
    expect(started).toHaveLength(1);
    started[0].start();
    await calls[0];
    expect(started).toHaveLength(2);
  });

  it('rejects the waiting call with the start error and does not restart in the background', async () => {
    const { p, started } = pool(2);
    const call = p.acquire();
    await flush();
    const err = new SandboxFailedError('unavailable', 'unshare failed');
    started.forEach((f) => f.fail(err));
    await expect(call).rejects.toBe(err);
    await flush();
    expect(started).toHaveLength(3);
    started[2].fail(err);
    await flush();
    expect(started).toHaveLength(3);
    const next = p.acquire();
    await flush();
    expect(started.length).toBeGreaterThan(3);
    started.slice(3).forEach((f) => f.fail(err));
    await expect(next).rejects.toBe(err);
  });

  it('drops a waiting process that died and replaces it on demand', async () => {
    const { p, started } = pool(1);
    void p.warm().catch(() => undefined);
    started[0].start();
    await flush();
    started[0].die();
    expect(p.warmCount).toBe(0);
    const call = p.acquire();
    await flush();
    started[started.length - 1].start();
    await expect(call).resolves.toBe(started[started.length - 1]);
  });

  it('close kills every process and rejects waiting and later calls with reason closed', async () => {
    const { p, started } = pool(1);
    const call = p.acquire();
    await flush();
    p.close();
    await expect(call).rejects.toMatchObject({ reason: 'closed' });
    expect(started.every((f) => f.killed)).toBe(true);
    await expect(p.acquire()).rejects.toMatchObject({ reason: 'closed' });
  });
});
