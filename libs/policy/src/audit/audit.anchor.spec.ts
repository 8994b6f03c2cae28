import { describe, expect, it } from '@jest/globals';
import { anchorHolds, anchorMac, resolveAnchorKey } from './audit.anchor';

const key = Buffer.from('k'.repeat(32));
const fields = { chainId: 'c1', seq: 10, eventId: 'e10', hash: 'a'.repeat(64), createdAt: 1_800_000_000_000 };
const anchor = { ...fields, mac: anchorMac(key, fields) };
const intact = { event: { id: 'e10', hash: 'a'.repeat(64) }, intactThrough: true };

describe('audit anchors', () => {
  it('hold while the anchored event is there, intact, and the MAC is right', () => {
    expect(anchorHolds(key, anchor, intact)).toBe(true);
  });

  it('fail when the anchored event is gone, rehashed, replaced or the chain before it is broken', () => {
    expect(anchorHolds(key, anchor, { event: null, intactThrough: false })).toBe(false);
    expect(anchorHolds(key, anchor, { event: { id: 'e10', hash: 'b'.repeat(64) }, intactThrough: true })).toBe(false);
    expect(anchorHolds(key, anchor, { event: { id: 'other', hash: 'a'.repeat(64) }, intactThrough: true })).toBe(false);
    expect(anchorHolds(key, anchor, { ...intact, intactThrough: false })).toBe(false);
  });

  it('fail when the anchor was altered or signed with another key', () => {
    expect(anchorHolds(key, { ...anchor, seq: 9 }, intact)).toBe(false);
    expect(anchorHolds(key, { ...anchor, mac: '0'.repeat(64) }, intact)).toBe(false);
    expect(anchorHolds(key, { ...anchor, mac: 'zz' }, intact)).toBe(false);
    expect(anchorHolds(Buffer.from('x'.repeat(32)), anchor, intact)).toBe(false);
    expect(anchorHolds(null, anchor, intact)).toBe(false);
    expect(anchorHolds(null, { ...fields, mac: anchorMac(null, fields) }, intact)).toBe(true);
  });

  it('takes a key of at least 32 bytes, or none', () => {
    expect(resolveAnchorKey(undefined)).toBeNull();
    expect(resolveAnchorKey('')).toBeNull();
    expect(resolveAnchorKey('k'.repeat(32))?.length).toBe(32);
    expect(() => resolveAnchorKey('short')).toThrow(/audit\.anchorKey/);
    expect(() => resolveAnchorKey(42)).toThrow(/audit\.anchorKey/);
  });
});
