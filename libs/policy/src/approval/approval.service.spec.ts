import { describe, expect, it } from '@jest/globals';
import { requestDigest } from './request-digest';

describe('requestDigest', () => {
  const base = { method: 'POST', path: '/sessions/s1/events', body: { message: 'hi', meta: { a: 1, b: [1, 2] } } };

  it('is the same for equal requests, whatever the key order or method case', () => {
    const digest = requestDigest(base);
    expect(digest).toMatch(/^[0-9a-f]{64}$/);
    expect(requestDigest({ method: 'post', path: base.path, body: { meta: { b: [1, 2], a: 1 }, message: 'hi' } })).toBe(
      digest,
    );
  });

  it.each([
    ['method', { ...base, method: 'PUT' }],
    ['path', { ...base, path: '/sessions/s2/events' }],
    ['body value', { ...base, body: { message: 'hi!', meta: { a: 1, b: [1, 2] } } }],
    ['array order', { ...base, body: { message: 'hi', meta: { a: 1, b: [2, 1] } } }],
    ['missing body', { method: 'POST', path: base.path }],
  ])('changes with the %s', (_label, other) => {
    expect(requestDigest(other)).not.toBe(requestDigest(base));
  });
});
