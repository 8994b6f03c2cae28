import { closeObjectSchemas, compileToolSchema } from './tool-schema.compiler';

describe('tool input schemas', () => {
  it('closes objects unless the schema opens them, not inside combinators', () => {
    const closed = closeObjectSchemas({
      type: 'object',
      properties: {
        a: { type: 'object', properties: { b: { type: 'string' } } },
        open: { type: 'object', additionalProperties: true },
      },
      anyOf: [{ properties: { x: { type: 'string' } } }],
    }) as Record<string, any>;
    expect(closed.additionalProperties).toBeUndefined();
    expect(closed.properties.a.additionalProperties).toBe(false);
    expect(closed.properties.open.additionalProperties).toBe(true);
    expect(closed.anyOf[0].additionalProperties).toBeUndefined();
    const plain = closeObjectSchemas({
      type: 'object',
      properties: { items: { type: 'array', items: { type: 'object' } } },
    }) as Record<string, any>;
    expect(plain.additionalProperties).toBe(false);
    expect(plain.properties.items.items.additionalProperties).toBe(false);
  });

  const schema = compileToolSchema({
    type: 'object',
    properties: {
      name: { type: 'string', maxLength: 5 },
      tags: {
        type: 'array',
        items: { type: 'object', properties: { label: { type: 'string', 'x-sanitize': 'text' } }, required: ['label'] },
      },
      count: { type: 'integer', default: 3 },
      email: { type: 'string', format: 'email' },
    },
    required: ['name'],
  });

  it('names the JSON path of each kind of error', () => {
    const check = (args: unknown) => {
      const r = schema.check(args);
      return r.ok ? null : r.errors[0];
    };
    expect(check({})).toBe('/name is required');
    expect(check({ name: 'abcdef' })).toBe('/name must NOT have more than 5 characters');
    expect(check({ name: 'a', other: 1 })).toBe('/other is not allowed');
    expect(check({ name: 'a', tags: [{ label: 'x' }, {}] })).toBe('/tags/1/label is required');
    expect(check({ name: 'a', tags: [{ label: 'x', extra: true }] })).toBe('/tags/0/extra is not allowed');
    expect(check({ name: 'a', email: 'not-an-email' })).toContain('/email');
    expect(check('string')).toBe('/ must be object');
    expect(check({ name: 'a', '<script>': 1 })).toBe('/?script? is not allowed');
  });

  it('applies defaults and sanitizes nested fields on a copy, never the caller object', () => {
    const args = { name: 'a', tags: [{ label: '<b>hi</b><script>x()</script>' }] };
    const result = schema.check(args);
    expect(result).toEqual({ ok: true, value: { name: 'a', tags: [{ label: 'hi' }], count: 3 } });
    expect(args.tags[0].label).toBe('<b>hi</b><script>x()</script>');
  });

  it('refuses a schema that is not an object schema, or has unknown keywords or formats', () => {
    expect(() => compileToolSchema({ type: 'string' })).toThrow('type "object"');
    expect(() => compileToolSchema({ type: 'object', properties: { a: { type: 'strin' } } })).toThrow();
    expect(() => compileToolSchema({ type: 'object', properties: { a: { type: 'string', maxLenght: 3 } } })).toThrow(
      /maxLenght/,
    );
    expect(() => compileToolSchema({ type: 'object', properties: { a: { type: 'string', format: 'nope' } } })).toThrow(
      /nope/,
    );
    expect(() =>
      compileToolSchema({ type: 'object', properties: { a: { type: 'string', 'x-sanitize': 'markdown' } } }),
    ).toThrow();
  });
});
