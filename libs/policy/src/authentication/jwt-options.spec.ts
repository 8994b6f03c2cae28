import { generateKeyPairSync, KeyObject } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import type { JwtAlgorithm } from '../policy-module-options.interface';
import { resolveJwtOptions } from './jwt-options';

const pem = (type: 'rsa' | 'ec' | 'ed25519', options: Record<string, unknown> = {}): string =>
  (generateKeyPairSync as (t: string, o: object) => { publicKey: { export(o: object): string | Buffer } })(
    type,
    options,
  )
    .publicKey.export({ type: 'spki', format: 'pem' })
    .toString();

const rsaKey = pem('rsa', { modulusLength: 2048 });
const ecKey = pem('ec', { namedCurve: 'P-256' });
const secret = 'x'.repeat(32);

/** The key material of a resolved key, whether it is handed over as a string or as a `KeyObject`. */
function keyMaterial(key: unknown): string {
  if (typeof key === 'string') return key;
  if (key instanceof KeyObject) {
    return key.type === 'secret'
      ? key.export().toString('utf8')
      : key.export({ type: 'spki', format: 'pem' }).toString();
  }
  throw new Error(`unexpected key ${String(key)}`);
}

describe('resolveJwtOptions', () => {
  describe('HS256 secret', () => {
    it('pins HS256 for a secret of 32 bytes', () => {
      const resolved = resolveJwtOptions({ secret }, true);
      expect(resolved).toMatchObject({
        algorithms: ['HS256'],
        issuer: undefined,
        audience: undefined,
        clockTolerance: 0,
      });
      expect(keyMaterial(resolved?.key)).toBe(secret);
      if (resolved?.key instanceof KeyObject) expect(resolved.key.type).toBe('secret');
    });

    it.each([['short'], ['x'.repeat(31)], ['é'.repeat(15)]])(
      'rejects a secret under 32 bytes (%s), naming jwt.secret',
      (weak) => {
        expect(() => resolveJwtOptions({ secret: weak }, false)).toThrow(/^jwt\.secret/);
        expect(() => resolveJwtOptions({ secret: weak }, true)).toThrow(/32 bytes/);
      },
    );

    it('counts bytes, not characters (16 two-byte characters are 32 bytes)', () => {
      expect(resolveJwtOptions({ secret: 'é'.repeat(16) }, true)?.algorithms).toEqual(['HS256']);
    });

    it.each<[JwtAlgorithm[]]>([[['RS256']], [['HS256', 'RS256']], [['ES256']], [[]], [['none' as JwtAlgorithm]]])(
      'rejects algorithms %j with a secret, naming jwt.algorithms',
      (algorithms) => {
        expect(() => resolveJwtOptions({ secret, algorithms }, true)).toThrow(/^jwt\.algorithms/);
      },
    );

    it('accepts an explicit HS256 pin', () => {
      expect(resolveJwtOptions({ secret, algorithms: ['HS256'] }, true)?.algorithms).toEqual(['HS256']);
    });

    it('passes issuer, audience and clock tolerance through', () => {
      expect(
        resolveJwtOptions({ secret, issuer: 'https://issuer', audience: ['a', 'b'], clockTolerance: 5 }, true),
      ).toMatchObject({
        issuer: 'https://issuer',
        audience: ['a', 'b'],
        clockTolerance: 5,
      });
    });

    it('treats empty issuer and audience as unset', () => {
      expect(resolveJwtOptions({ secret, issuer: '', audience: '' }, true)).toMatchObject({
        issuer: undefined,
        audience: undefined,
      });
    });
  });

  describe('no key', () => {
    it.each([[undefined], [{}], [{ secret: '', publicKey: '' }]])('fails in production (%j)', (jwt) => {
      expect(() => resolveJwtOptions(jwt, true)).toThrow(/^jwt\.secret.*production/);
    });

    it.each([[undefined], [{}], [{ secret: '' }]])('turns JWT authentication off in development (%j)', (jwt) => {
      expect(resolveJwtOptions(jwt, false)).toBeNull();
    });
  });

  it.each([true, false])('rejects both a secret and a public key (production %s)', (production) => {
    expect(() => resolveJwtOptions({ secret, publicKey: rsaKey }, production)).toThrow(
      /jwt\.secret.*jwt\.publicKey|not both/,
    );
  });

  describe('public keys', () => {
    it('pins RS256 for an RSA public key', () => {
      const resolved = resolveJwtOptions({ publicKey: rsaKey }, true);
      expect(resolved?.algorithms).toEqual(['RS256']);
      expect(keyMaterial(resolved?.key)).toBe(rsaKey);
    });

    it('pins ES256 for an EC P-256 public key', () => {
      const resolved = resolveJwtOptions({ publicKey: ecKey }, true);
      expect(resolved?.algorithms).toEqual(['ES256']);
      expect(keyMaterial(resolved?.key)).toBe(ecKey);
    });

    it.each<[string, () => string, JwtAlgorithm[]]>([
      ['RSA key with HS256', () => rsaKey, ['HS256']],
      ['RSA key with ES256', () => rsaKey, ['ES256']],
      ['RSA key with RS256 and HS256', () => rsaKey, ['RS256', 'HS256']],
      ['EC key with RS256', () => ecKey, ['RS256']],
      ['EC key with HS256', () => ecKey, ['HS256']],
      ['RSA key with no algorithm', () => rsaKey, []],
    ])('rejects algorithms not matching the key type: %s', (_name, key, algorithms) => {
      expect(() => resolveJwtOptions({ publicKey: key(), algorithms }, true)).toThrow(/^jwt\.algorithms/);
    });

    it('accepts an explicit pin that matches the key type', () => {
      expect(resolveJwtOptions({ publicKey: rsaKey, algorithms: ['RS256'] }, true)?.algorithms).toEqual(['RS256']);
      expect(resolveJwtOptions({ publicKey: ecKey, algorithms: ['ES256'] }, true)?.algorithms).toEqual(['ES256']);
    });

    it.each([['not a key'], [secret], ['-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----']])(
      'rejects a value that is not a PEM public key, naming jwt.publicKey',
      (publicKey) => {
        expect(() => resolveJwtOptions({ publicKey }, true)).toThrow(/^jwt\.publicKey/);
      },
    );

    it('rejects an unsupported key type, naming jwt.publicKey', () => {
      expect(() => resolveJwtOptions({ publicKey: pem('ed25519') }, true)).toThrow(/^jwt\.publicKey.*ed25519/);
    });

    it('does not pin ES256 to an EC key on a curve other than P-256', () => {
      // ES256 is ECDSA over P-256 only (RFC 7518 §3.4): with a P-384 key every token would fail at runtime.
      const p384 = pem('ec', { namedCurve: 'P-384' });
      expect(() => resolveJwtOptions({ publicKey: p384 }, true)).toThrow(/jwt\.(publicKey|algorithms)/);
    });
  });

  describe('token lifetime and iat leeway', () => {
    it('defaults to a 24 h maximum lifetime and a 5 s iat leeway', () => {
      expect(resolveJwtOptions({ secret }, true)).toMatchObject({ maxLifetime: 86_400, iatLeeway: 5 });
      expect(resolveJwtOptions({ secret, maxLifetime: 3600, iatLeeway: 0 }, true)).toMatchObject({
        maxLifetime: 3600,
        iatLeeway: 0,
      });
    });

    it.each<[string, Record<string, unknown>]>([
      ['jwt.maxLifetime', { maxLifetime: 0 }],
      ['jwt.maxLifetime', { maxLifetime: -5 }],
      ['jwt.maxLifetime', { maxLifetime: Number.POSITIVE_INFINITY }],
      ['jwt.maxLifetime', { maxLifetime: '86400' }],
      ['jwt.maxLifetime', { maxLifetime: 1e12 }],
      ['jwt.iatLeeway', { iatLeeway: -1 }],
      ['jwt.iatLeeway', { iatLeeway: Number.NaN }],
      ['jwt.clockTolerance', { clockTolerance: -1 }],
    ])('refuses a bad %s at boot', (key, option) => {
      expect(() => resolveJwtOptions({ secret, ...option }, true)).toThrow(new RegExp(`^${key.replace('.', '\\.')}`));
    });
  });
});
