import { hasUtf8Charset, isJsonContentType, valueNestsDeeperThan } from './json-body';

const nested = (depth: number): unknown => JSON.parse('{"a":'.repeat(depth) + '1' + '}'.repeat(depth));

describe('valueNestsDeeperThan', () => {
  it('measures nesting of objects and arrays', () => {
    expect(valueNestsDeeperThan({ a: [1, { b: 2 }] }, 3)).toBe(false);
    expect(valueNestsDeeperThan({ a: [1, { b: [] }] }, 3)).toBe(true);
    expect(valueNestsDeeperThan(nested(32))).toBe(false);
    expect(valueNestsDeeperThan(nested(33))).toBe(true);
    expect(valueNestsDeeperThan('[[[]]]')).toBe(false);
    expect(valueNestsDeeperThan(null)).toBe(false);
  });

  it('measures 30,000 levels without recursing', () => {
    expect(valueNestsDeeperThan(JSON.parse('['.repeat(30_000) + ']'.repeat(30_000)))).toBe(true);
    expect(valueNestsDeeperThan(nested(30_000))).toBe(true);
  });
});

describe('isJsonContentType', () => {
  it.each([
    ['application/json', true],
    ['Application/JSON; charset=utf-8', true],
    ['application/x-www-form-urlencoded', false],
    ['text/plain', false],
    [undefined, false],
    ['application/jsonx', false],
  ])('%s → %s', (header, expected) => expect(isJsonContentType(header)).toBe(expected));
});

describe('hasUtf8Charset', () => {
  it.each([
    ['application/json', true],
    ['application/json; charset=utf-8', true],
    ['application/json;charset="UTF-8"', true],
    ['application/json; foo=bar', true],
    [undefined, true],
    ['application/json; charset=utf-16', false],
    ['application/json; charset=utf8', false],
    ['application/json; charset=us-ascii', false],
    ['application/json; charset=utf-8; charset=utf-16', false],
  ])('%s → %s', (header, expected) => expect(hasUtf8Charset(header)).toBe(expected));
});
