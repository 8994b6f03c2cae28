import { describe, expect, it } from '@jest/globals';
import { RunGuard, toolCallKey } from './run.guard';
import { assertPolicyDocument } from '../schema/policy-schema.validator';

describe('RunGuard', () => {
  it('stops a run at maxSteps', () => {
    const guard = new RunGuard({ maxSteps: 3 });
    for (let i = 0; i < 3; i++) {
      expect(guard.beforeStep()).toEqual({ ok: true });
      guard.recordStep();
    }
    expect(guard.beforeStep()).toMatchObject({ ok: false, reason: 'max_steps', limit: 'maxSteps', onLimit: 'stop' });
  });

  it('detects the same tool with the same arguments, whatever their key order, past maxRepeats', () => {
    const guard = new RunGuard({ maxRepeats: 2, onLimit: 'approval' });
    expect(guard.recordToolCall('search', { q: 'x', n: 1 })).toEqual({ ok: true });
    expect(guard.recordToolCall('search', { n: 1, q: 'x' })).toEqual({ ok: true });
    expect(guard.recordToolCall('search', { q: 'y', n: 1 })).toEqual({ ok: true });
    expect(guard.recordToolCall('other', { n: 1, q: 'x' })).toEqual({ ok: true });
    expect(guard.recordToolCall('search', { q: 'x', n: 1 })).toMatchObject({
      ok: false,
      reason: 'loop_detected',
      onLimit: 'approval',
    });
    expect(guard.state.toolCalls).toBe(4);
  });

  it('stops at maxToolCalls, maxCost, maxTokens and maxSeconds', () => {
    const calls = new RunGuard({ maxToolCalls: 1 });
    expect(calls.recordToolCall('a', {})).toEqual({ ok: true });
    expect(calls.recordToolCall('b', {})).toMatchObject({ ok: false, reason: 'max_tool_calls' });

    const cost = new RunGuard({ maxCost: 0.001 });
    cost.recordStep({ cost: 0.0006 });
    expect(cost.beforeStep()).toEqual({ ok: true });
    cost.recordStep({ cost: 0.0006 });
    expect(cost.beforeStep()).toMatchObject({ ok: false, reason: 'max_cost' });

    const tokens = new RunGuard({ maxTokens: 10 });
    tokens.recordStep({ tokens: 10 });
    expect(tokens.beforeStep()).toMatchObject({ ok: false, reason: 'max_tokens' });

    let now = 1_000;
    const time = new RunGuard({ maxSeconds: 2 }, undefined, () => now);
    expect(time.beforeStep()).toEqual({ ok: true });
    now += 2_000;
    expect(time.beforeStep()).toMatchObject({ ok: false, reason: 'max_seconds' });
  });

  it('raises a limit once by its configured value after an approval, and resumes from a persisted state', () => {
    const guard = new RunGuard({ maxSteps: 2, onLimit: 'approval' });
    guard.recordStep();
    guard.recordStep();
    expect(guard.beforeStep()).toMatchObject({ ok: false, reason: 'max_steps', onLimit: 'approval' });
    guard.raise('maxSteps');
    const resumed = new RunGuard(guard.limits, guard.state);
    expect(resumed.limit('maxSteps')).toBe(4);
    resumed.recordStep();
    resumed.recordStep();
    expect(resumed.beforeStep()).toMatchObject({ ok: false, reason: 'max_steps' });
  });

  it('keys tool calls by canonical JSON', () => {
    expect(toolCallKey('t', { b: [1, { d: 1, c: 2 }], a: null })).toBe(
      toolCallKey('t', { a: null, b: [1, { c: 2, d: 1 }] }),
    );
    expect(toolCallKey('t', { a: 1 })).not.toBe(toolCallKey('u', { a: 1 }));
  });
});

describe('the runs section of the policy schema', () => {
  const document = (runs: unknown) => ({ roles: { admin: { operations: ['*'] } }, runs });

  it('accepts the documented keys and names the key at fault', () => {
    expect(() =>
      assertPolicyDocument(document({ maxSteps: 5, maxCost: 0.5, maxRepeats: 3, onLimit: 'approval' })),
    ).not.toThrow();
    expect(() => assertPolicyDocument(document({ maxSteps: 0 }))).toThrow(/runs\.maxSteps/);
    expect(() => assertPolicyDocument(document({ maxSteps: 1.5 }))).toThrow(/runs\.maxSteps/);
    expect(() => assertPolicyDocument(document({ maxCost: -1 }))).toThrow(/runs\.maxCost/);
    expect(() => assertPolicyDocument(document({ onLimit: 'pause' }))).toThrow(/runs\.onLimit/);
    expect(() => assertPolicyDocument(document({ maxStep: 1 }))).toThrow(
      /runs\.maxStep: unknown key \(did you mean "maxSteps"\?\)/,
    );
  });
});
