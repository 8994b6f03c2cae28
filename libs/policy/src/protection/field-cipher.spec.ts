import { randomBytes } from 'node:crypto';
import { DataKeyRing, parseBlindIndexKey } from './data-key-ring';
import { decryptField, encryptField, FieldDecryptionError, storedKeyId } from './field-cipher';
import { blindIndex, normalizeEmail } from './blind-index';
import { encryptedColumn, FieldEncryption } from './field-encryption';

const k = () => randomBytes(32).toString('base64');

describe('DataKeyRing', () => {
  it('parses kid:base64key pairs; the first encrypts, all are held', () => {
    const ring = DataKeyRing.parse(`new:${k()}, old:${k()}`);
    expect(ring.primary.kid).toBe('new');
    expect(ring.has('old')).toBe(true);
    expect(ring.has('other')).toBe(false);
  });

  it.each([
    ['', /at least one key/],
    [`k1:${randomBytes(16).toString('base64')}`, /key "k1" is 16 bytes; AES-256 needs 32/],
    [`k1:${k()},k1:${k()}`, /"k1" appears twice/],
    [k(), /entry 1 must be kid:base64key/],
    [`bad kid:${k()}`, /key id "bad kid"/],
    ['k2:not base64!', /key "k2" is not base64/],
  ])('refuses %j naming the fault', (text, error) => {
    expect(() => DataKeyRing.parse(text)).toThrow(error);
  });

  it('never puts key material in its errors', () => {
    const short = randomBytes(31).toString('base64');
    try {
      DataKeyRing.parse(`k9:${short}`);
      throw new Error('parsed');
    } catch (err) {
      expect((err as Error).message).toContain('k9');
      expect((err as Error).message).not.toContain(short);
    }
  });

  it('BLIND_INDEX_KEY must be at least 32 bytes', () => {
    expect(() => parseBlindIndexKey(randomBytes(16).toString('base64'))).toThrow(/BLIND_INDEX_KEY is 16 bytes/);
    expect(parseBlindIndexKey(randomBytes(32).toString('base64url'))).toHaveLength(32);
  });

  it('a derived development ring names its key by fingerprint', () => {
    expect(DataKeyRing.derived('a').primary.kid).toMatch(/^dev-[0-9a-f]{8}$/);
    expect(DataKeyRing.derived('a').primary.kid).toBe(DataKeyRing.derived('a').primary.kid);
    expect(DataKeyRing.derived('a').primary.kid).not.toBe(DataKeyRing.derived('b').primary.kid);
  });
});

describe('encryptField / decryptField', () => {
  const ring = DataKeyRing.parse(`k1:${k()}`);

  it('round-trips unicode and empty strings, with a fresh IV each time', () => {
    for (const text of ['alice@example.com', '', 'Zoë 🚀 ünïcödé', 'x'.repeat(5000)]) {
      const a = encryptField(ring, text, 'customers.name');
      const b = encryptField(ring, text, 'customers.name');
      expect(a).not.toBe(b);
      expect(a.startsWith('v1:k1:')).toBe(true);
      if (text) expect(a).not.toContain(text);
      expect(decryptField(ring, a, 'customers.name')).toBe(text);
      expect(storedKeyId(a)).toBe('k1');
    }
  });

  it('refuses a tampered ciphertext, tag or IV with a clear error, never garbage', () => {
    const stored = encryptField(ring, 'secret message', 'events.message');
    const [v, kid, iv, tag, ct] = stored.split(':');
    const flip = (s: string) => {
      const b = Buffer.from(s, 'base64url');
      b[0] ^= 1;
      return b.toString('base64url');
    };
    for (const bad of [
      [v, kid, iv, tag, flip(ct)],
      [v, kid, iv, flip(tag), ct],
      [v, kid, flip(iv), tag, ct],
    ]) {
      expect(() => decryptField(ring, bad.join(':'), 'events.message')).toThrow(
        /events\.message: encrypted value under kid "k1" failed its integrity check \(GCM tag\)/,
      );
    }
    expect(() => decryptField(ring, `${v}:${kid}:${iv}:${tag}`, 'events.message')).toThrow(FieldDecryptionError);
  });

  it('binds the value to its column: moved to another column it is refused', () => {
    const stored = encryptField(ring, 'a@b.c', 'customers.email');
    expect(() => decryptField(ring, stored, 'customers.name')).toThrow(/integrity check/);
  });

  it('names an unknown kid', () => {
    const other = DataKeyRing.parse(`k2:${k()}`);
    expect(() => decryptField(other, encryptField(ring, 'x', 'c'), 'c')).toThrow(/no data key for kid "k1"/);
  });

  it('decrypts values of every key in the ring after a new primary is added', () => {
    const old = encryptField(ring, 'before', 'c');
    const rotated = new DataKeyRing([{ kid: 'k2', key: randomBytes(32) }, ...ring.keys]);
    expect(decryptField(rotated, old, 'c')).toBe('before');
    expect(storedKeyId(encryptField(rotated, 'after', 'c'))).toBe('k2');
  });
});

describe('encryptedColumn', () => {
  it('encrypts on write, decrypts on read, passes null through and reads legacy plaintext', () => {
    const enc = new FieldEncryption();
    const t = encryptedColumn(enc, 'customers.email');
    expect(() => t.to('a@b.c')).toThrow(/not configured/);
    enc.use({ keyRing: DataKeyRing.parse(`k1:${k()}`), blindIndexKey: randomBytes(32) });
    const stored = t.to('a@b.c') as string;
    expect(stored).toMatch(/^v1:k1:/);
    expect(t.from(stored)).toBe('a@b.c');
    expect(t.to(null)).toBeNull();
    expect(t.from(null)).toBeNull();
    expect(t.from('legacy@example.com')).toBe('legacy@example.com');
  });
});

describe('blindIndex', () => {
  it('is equal for equal normalised values, keyed, and hides the value', () => {
    const key = randomBytes(32);
    const a = blindIndex(key, ' Alice@Example.COM ', normalizeEmail);
    expect(a).toBe(blindIndex(key, 'alice@example.com', normalizeEmail));
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(a).not.toBe(blindIndex(randomBytes(32), 'alice@example.com', normalizeEmail));
    expect(a).not.toBe(blindIndex(key, 'bob@example.com', normalizeEmail));
  });
});
