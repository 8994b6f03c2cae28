import { describe, expect, it } from '@jest/globals';
import { GENESIS_HASH, hashEvent, verifyChain, type AuditChainFields, type AuditChainRecord } from './audit.chain';

function chain(chainId: string, length: number, start = 1_000): AuditChainRecord[] {
  const events: AuditChainRecord[] = [];
  let prevHash = GENESIS_HASH;
  for (let seq = 1; seq <= length; seq++) {
    const fields: AuditChainFields = {
      id: `${chainId}-${seq}`,
      chainId,
      seq,
      type: 'access.denied',
      outcome: 'DENY',
      principalId: 'u1',
      tenantId: null,
      operation: 'agent.delete',
      reasons: '["no"]',
      requestId: `r${seq}`,
      ip: null,
      details: null,
      createdAt: start + seq,
    };
    const hash = hashEvent(prevHash, fields);
    events.push({ ...fields, prevHash, hash });
    prevHash = hash;
  }
  return events;
}

describe('audit hash chain', () => {
  it('hashes deterministically over every field and the previous hash', () => {
    const [event] = chain('c', 1);
    const { prevHash, hash, ...fields } = event;
    expect(hashEvent(prevHash, fields)).toBe(hash);
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(hashEvent('f'.repeat(64), fields)).not.toBe(hash);
    for (const [key, value] of Object.entries({
      reasons: '["yes"]',
      seq: 2,
      chainId: 'd',
      ip: '1.2.3.4',
      createdAt: 1,
    })) {
      expect(hashEvent(prevHash, { ...fields, [key]: value })).not.toBe(hash);
    }
  });

  it('accepts intact chains in any order', () => {
    const events = [...chain('a', 5), ...chain('b', 3)].reverse();
    expect(verifyChain(events)).toEqual({ valid: true, checked: 8, firstBrokenId: null });
    expect(verifyChain([])).toEqual({ valid: true, checked: 0, firstBrokenId: null });
  });

  it('reports an edited field', () => {
    const events = chain('a', 5);
    events[2] = { ...events[2], reasons: '["tampered"]' };
    expect(verifyChain(events)).toEqual({ valid: false, checked: 3, firstBrokenId: 'a-3' });
  });

  it('reports a deleted event at the event after it, and a deleted first event', () => {
    const events = chain('a', 5);
    expect(verifyChain(events.filter((e) => e.seq !== 3)).firstBrokenId).toBe('a-4');
    expect(verifyChain(events.slice(1)).firstBrokenId).toBe('a-2');
  });

  it('reports a rehashed edit by its broken link to the next event', () => {
    const events = chain('a', 4);
    const edited = { ...events[1], reasons: '["rewritten"]' };
    events[1] = { ...edited, hash: hashEvent(edited.prevHash, edited) };
    expect(verifyChain(events).firstBrokenId).toBe('a-3');
  });

  it('names the earliest broken event across chains', () => {
    const early = chain('early', 3, 0);
    const late = chain('late', 3, 500);
    late[0] = { ...late[0], outcome: 'ALLOW' };
    early[2] = { ...early[2], outcome: 'ALLOW' };
    expect(verifyChain([...late, ...early])).toMatchObject({ valid: false, firstBrokenId: 'early-3' });
  });
});
