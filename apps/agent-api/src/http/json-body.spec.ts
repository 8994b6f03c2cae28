import { isJsonContentType, jsonNestsDeeperThan, valueNestsDeeperThan } from './json-body';

const bytes = (text: string) => Buffer.from(text);

describe('jsonNestsDeeperThan', () => {
  it('measures nesting of objects and arrays', () => {
    expect(jsonNestsDeeperThan(bytes('{"a":[1,{"b":2}]}'), 3)).toBe(false);
    expect(jsonNestsDeeperThan(bytes('{"a":[1,{"b":[]}]}'), 3)).toBe(true);
    expect(jsonNestsDeeperThan(bytes('['.repeat(30_000) + ']'.repeat(30_000)))).toBe(true);
    expect(jsonNestsDeeperThan(bytes('{"a":'.repeat(33) + '1' + '}'.repeat(33)))).toBe(true);
    expect(jsonNestsDeeperThan(bytes('{"a":'.repeat(32) + '1' + '}'.repeat(32)))).toBe(false);
  });

  it('ignores brackets inside strings, escaped quotes included', () => {
    expect(jsonNestsDeeperThan(bytes(JSON.stringify({ a: '[[[[{{{{', b: 'say \\"[[[[\\"' })), 1)).toBe(false);
    expect(jsonNestsDeeperThan(bytes(JSON.stringify({ a: '"\\' }) + '[[[['), 3)).toBe(true);
  });

  it('reads multi-byte UTF-8 without confusion', () => {
    expect(jsonNestsDeeperThan(bytes(JSON.stringify({ a: '漢字 😀 [ ]' })), 1)).toBe(false);
  });
});

describe('isJsonContentType', () => {
  it.each([['application/json', true], ['Application/JSON; charset=utf-8', true], ['application/x-www-form-urlencoded', false], ['text/plain', false], [undefined, false], ['application/jsonx', false]])(
    '%s → %s',
    (header, expected) => expect(isJsonContentType(header)).toBe(expected),
  );
});

describe('valueNestsDeeperThan', () => {
  it('agrees with the byte scanner', () => {
    for (const text of ['{"a":[1,{"b":2}]}', '[[[]]]', '{"a":' + '['.repeat(40) + ']'.repeat(40) + '}', '"x"', '{}']) {
      for (const max of [1, 2, 3, 32]) expect(valueNestsDeeperThan(JSON.parse(text), max)).toBe(jsonNestsDeeperThan(Buffer.from(text), max));
    }
    expect(valueNestsDeeperThan(JSON.parse('['.repeat(30_000) + ']'.repeat(30_000)))).toBe(true);
  });
});
