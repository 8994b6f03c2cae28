import { describe, expect, it } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { PolicyEventBus, type PolicyEvent } from './policy-events';

const event: PolicyEvent = { type: 'auth.failure', ip: '10.0.0.1', requestId: 'r1', credential: 'jwt', tenantId: null };

describe('PolicyEventBus', () => {
  it('hands each event to every subscriber once, awaiting the asynchronous ones', async () => {
    const bus = new PolicyEventBus(null);
    const seen: string[] = [];
    const sync = { onPolicyEvent: (e: PolicyEvent) => void seen.push(`sync:${e.type}`) };
    const slow = {
      onPolicyEvent: async (e: PolicyEvent) => {
        await new Promise((r) => setTimeout(r, 5));
        seen.push(`async:${e.type}`);
      },
    };
    bus.subscribe(sync);
    bus.subscribe(slow);
    bus.subscribe(sync);
    await bus.emit(event);
    expect(seen).toEqual(['sync:auth.failure', 'async:auth.failure']);
  });

  it('keeps going past a subscriber that throws, and logs it without the secret', async () => {
    const bus = new PolicyEventBus(null);
    const logged: string[] = [];
    const spy = jest
      .spyOn(Logger.prototype, 'error')
      .mockImplementation((message: unknown) => void logged.push(String(message)));
    try {
      const seen: PolicyEvent[] = [];
      bus.subscribe({
        onPolicyEvent: () => {
          throw new Error('failed with password=hunter2');
        },
      });
      bus.subscribe({
        onPolicyEvent: async () => {
          throw new Error('rejected');
        },
      });
      bus.subscribe({ onPolicyEvent: (e) => void seen.push(e) });
      await expect(bus.emit(event)).resolves.toBeUndefined();
      expect(seen).toEqual([event]);
      expect(logged).toHaveLength(2);
      expect(logged.join(' ')).not.toContain('hunter2');
    } finally {
      spy.mockRestore();
    }
  });

  it('emitNow answers no promise while every subscriber takes the event at once', () => {
    const bus = new PolicyEventBus(null);
    const seen: string[] = [];
    bus.subscribe({ onPolicyEvent: () => void seen.push('a') });
    bus.subscribe({ onPolicyEvent: () => undefined });
    expect(bus.emitNow(event)).toBeUndefined();
    expect(seen).toEqual(['a']);
  });

  it('emitNow answers a promise from the first asynchronous subscriber, and calls the later ones after it', async () => {
    const bus = new PolicyEventBus(null);
    const seen: string[] = [];
    let release!: () => void;
    bus.subscribe({ onPolicyEvent: () => void seen.push('first') });
    bus.subscribe({
      onPolicyEvent: () =>
        new Promise<void>((resolve) => {
          release = () => {
            seen.push('slow');
            resolve();
          };
        }),
    });
    bus.subscribe({ onPolicyEvent: () => void seen.push('last') });
    const pending = bus.emitNow(event);
    expect(pending).toBeInstanceOf(Promise);
    expect(seen).toEqual(['first']);
    release();
    await pending;
    expect(seen).toEqual(['first', 'slow', 'last']);
  });
});
