import { describe, expect, it } from '@jest/globals';
import { REDACTED, isSecretKey, redact, redactString } from './audit.redaction';

const JWT = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTEifQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c';
const API_KEY = 'apk_3f2a9c_Zx8yQ1w2e3r4t5y6u7i8o9p0';

describe('redact', () => {
  it.each([
    'authorization',
    'Authorization',
    'cookie',
    'Set-Cookie',
    'token',
    'access_token',
    'refresh_token',
    'id_token',
    'password',
    'PASSWD',
    'secret',
    'client_secret',
    'api_key',
    'apiKey',
    'x-api-key',
    'X-API-KEY',
    'private_key',
    'jwt',
    'credential',
    'credentials',
    'sessionToken',
    'dbPassword',
    'webhookSecret',
  ])('redacts the value of %s', (key) => {
    expect(redact({ [key]: 'value-123', keep: 'visible' })).toEqual({ [key]: REDACTED, keep: 'visible' });
  });

  it.each(['tokens', 'inputTokens', 'tokenId', 'principalId', 'operation', 'cost'])('keeps %s', (key) => {
    expect(isSecretKey(key)).toBe(false);
    expect(redact({ [key]: 42 })).toEqual({ [key]: 42 });
  });

  it('redacts nested objects and arrays, whole values included, without touching the input', () => {
    const input = {
      request: {
        headers: { Cookie: 'sid=abc', 'x-request-id': 'r1' },
        body: [{ password: { nested: 'p' } }, { name: 'ok' }],
      },
      list: [1, 'two', null],
    };
    const snapshot = JSON.stringify(input);
    expect(redact(input)).toEqual({
      request: { headers: { Cookie: REDACTED, 'x-request-id': 'r1' }, body: [{ password: REDACTED }, { name: 'ok' }] },
      list: [1, 'two', null],
    });
    expect(JSON.stringify(input)).toBe(snapshot);
  });

  it('scrubs JWTs, bearer credentials, API keys and secret query parameters inside any string', () => {
    const text = `jwt ${JWT}; header Bearer abc.def-ghi; key ${API_KEY}; url /cb?code=xyz&access_token=tok123&x=1`;
    const scrubbed = redactString(text);
    for (const secret of [JWT, 'abc.def-ghi', API_KEY, 'xyz', 'tok123']) expect(scrubbed).not.toContain(secret);
    expect(scrubbed).toContain('Bearer [REDACTED]');
    expect(scrubbed).toContain('x=1');
    expect(redact(['ok', { message: `failed with ${API_KEY}` }])).toEqual([
      'ok',
      { message: `failed with ${REDACTED}` },
    ]);
  });

  it('keeps ordinary text intact', () => {
    const text = 'Role operator may not call agent.delete (tenant t-1, 3 tokens, apk list)';
    expect(redactString(text)).toBe(text);
  });

  it('is cycle-safe and turns non-JSON values into JSON', () => {
    const cyclic: Record<string, unknown> = {
      name: 'a',
      when: new Date(0),
      big: 10n,
      skip: undefined,
      fn: () => 1,
      nan: Number.NaN,
    };
    cyclic.self = cyclic;
    cyclic.list = [cyclic, new Set(['x']), new Map([['k', 'v']])];
    const shared = { v: 1 };
    expect(redact(cyclic)).toEqual({
      name: 'a',
      when: '1970-01-01T00:00:00.000Z',
      big: '10',
      nan: null,
      self: '[Circular]',
      list: ['[Circular]', ['x'], { k: 'v' }],
    });
    expect(redact({ a: shared, b: shared })).toEqual({ a: { v: 1 }, b: { v: 1 } });
    expect(redact(undefined)).toBeNull();
  });

  it('keeps an error message but scrubs it', () => {
    expect(redact(new Error(`token ${JWT} rejected`))).toEqual({
      name: 'Error',
      message: `token ${REDACTED} rejected`,
    });
  });

  it("keeps the library's own words readable and masks only credential values", () => {
    expect(
      redact({ reasons: ['invalid bearer token', 'invalid API key'], details: { credential: 'api-key' } }),
    ).toEqual({
      reasons: ['invalid bearer token', 'invalid API key'],
      details: { credential: 'api-key' },
    });
    expect(redact({ credential: 'jwt', token: null, password: false })).toEqual({
      credential: 'jwt',
      token: null,
      password: false,
    });
    expect(redactString('Invalid Bearer token format')).toBe('Invalid Bearer token format');
    for (const text of [
      'Bearer xxx',
      'bearer s3cr3t-value',
      'Authorization: Bearer abcdefghijklmnop',
      `bearer ${API_KEY}`,
    ]) {
      expect(redactString(text)).toMatch(/\[REDACTED\]/);
    }
    expect(redact({ credential: 'hunter2', token: 12345, apiKey: API_KEY })).toEqual({
      credential: REDACTED,
      token: REDACTED,
      apiKey: REDACTED,
    });
  });
});
