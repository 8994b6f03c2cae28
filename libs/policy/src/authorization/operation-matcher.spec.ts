import { describe, expect, it } from '@jest/globals';
import { AGENT_OPERATIONS } from './agent-operation';
import { matchesOperation, patternMatchesAny } from './operation-matcher';

describe('matchesOperation', () => {
  it.each([
    ['agent.read', 'agent.read', true],
    ['agent.read', 'agent.list', false],
    ['agent.read', 'agents.read', false],
    ['agent.read', 'agent.read.extra', false],
    ['agent.read', 'agent', false],
  ])('exact pattern %s vs %s → %s', (pattern, operation, expected) => {
    expect(matchesOperation(pattern, operation)).toBe(expected);
  });

  it.each([
    ['agent.*', 'agent.read', true],
    ['agent.*', 'agent.delete', true],
    ['agent.*', 'agent.read.extra', true],
    ['api-key.*', 'api-key.create', true],
    ['agent.*', 'agents.read', false],
    ['agent.*', 'agent', false],
    ['agent.*', 'agent.', false],
    ['agent.*', 'agentx.read', false],
    ['agent.*', 'session.read', false],
    ['agent.*', 'xagent.read', false],
    ['api-key.*', 'api.create', false],
  ])('resource wildcard %s vs %s → %s (whole segment only)', (pattern, operation, expected) => {
    expect(matchesOperation(pattern, operation)).toBe(expected);
  });

  it.each(['agent.read', 'tool.invoke', 'thing.list', 'anything'])('"*" matches %s', (operation) => {
    expect(matchesOperation('*', operation)).toBe(true);
  });

  it('does not treat other glob shapes as wildcards', () => {
    expect(matchesOperation('*.read', 'agent.read')).toBe(false);
    expect(matchesOperation('agent*', 'agent.read')).toBe(false);
    expect(matchesOperation('agent.r*', 'agent.read')).toBe(false);
  });
});

describe('patternMatchesAny', () => {
  it.each([
    ['agent.read', true],
    ['agent.*', true],
    ['*', true],
    ['approval.*', true],
    ['agents.*', false],
    ['agent.fly', false],
    ['thing.list', false],
    ['agent', false],
  ])('%s against the built-in catalogue → %s', (pattern, expected) => {
    expect(patternMatchesAny(pattern, AGENT_OPERATIONS)).toBe(expected);
  });

  it('uses the catalogue it is given', () => {
    expect(patternMatchesAny('thing.list', [...AGENT_OPERATIONS, 'thing.list'])).toBe(true);
    expect(patternMatchesAny('thing.*', ['thing.list'])).toBe(true);
    expect(patternMatchesAny('*', [])).toBe(false);
    expect(patternMatchesAny('agent.read', [])).toBe(false);
  });
});
