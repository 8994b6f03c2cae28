import { DEFAULT_MAX_INPUT_DEPTH, inputShapeProblem } from './input-shape';

const nest = (depth: number): unknown => {
  let value: unknown = 'leaf';
  for (let i = 0; i < depth; i += 1) value = i % 2 ? [value] : { a: value };
  return value;
};

describe('inputShapeProblem', () => {
  it('accepts ordinary input', () => {
    expect(inputShapeProblem({ name: 'x', tags: ['a', 'b'], n: 1, ok: true, none: null })).toBeNull();
    expect(inputShapeProblem('text')).toBeNull();
    expect(inputShapeProblem(undefined)).toBeNull();
    expect(inputShapeProblem(nest(DEFAULT_MAX_INPUT_DEPTH))).toBeNull();
  });

  it('refuses nesting past the bound without recursing (30,000 deep)', () => {
    expect(inputShapeProblem(nest(DEFAULT_MAX_INPUT_DEPTH + 1))).toMatch(/nested more than 32 levels/);
    expect(inputShapeProblem(nest(30_000))).toMatch(/nested more than/);
    expect(inputShapeProblem(nest(5), 4)).toMatch(/nested more than 4 levels/);
  });

  it('refuses a NUL in any string or key, naming the path but not the value', () => {
    expect(inputShapeProblem({ a: { b: ['ok', 'se\u0000cret'] } })).toBe('a.b.1 must not contain NUL characters');
    expect(inputShapeProblem({ ['k\u0000']: 1 })).toBe('value has a key with a NUL character');
    expect(inputShapeProblem('\u0000')).toBe('value must not contain NUL characters');
  });
});
