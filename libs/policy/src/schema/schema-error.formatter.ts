import type { ErrorObject } from 'ajv';
import { suggestKey } from './key-suggestion';

type Schema = Record<string, unknown>;

const article = (word: string) => (/^[aeiou]/.test(word) ? `an ${word}` : `a ${word}`);

/** What a value must be, in words, from its schema: `an integer >= 1`, `one of "open", "closed"`, `an object`. */
export function describeSchema(schema: Schema | undefined): string {
  if (!schema || typeof schema !== 'object') return 'a valid value';
  if (Array.isArray(schema.enum)) return `one of ${schema.enum.map((v) => JSON.stringify(v)).join(', ')}`;
  if (Array.isArray(schema.anyOf)) return (schema.anyOf as Schema[]).map(describeSchema).join(' or ');
  const type = schema.type as string | undefined;
  if (type === 'integer' || type === 'number') {
    const bounds: string[] = [];
    if (schema.exclusiveMinimum !== undefined) bounds.push(`> ${JSON.stringify(schema.exclusiveMinimum)}`);
    if (schema.minimum !== undefined) bounds.push(`>= ${JSON.stringify(schema.minimum)}`);
    if (schema.maximum !== undefined) bounds.push(`<= ${JSON.stringify(schema.maximum)}`);
    return `${article(type)}${bounds.length ? ` ${bounds.join(' and ')}` : ''}`;
  }
  if (type === 'string') return schema.minLength ? 'a non-empty string' : 'a string';
  if (type === 'array') {
    const items = describeSchema(schema.items as Schema).replace(/^an? /, '');
    return `a list of ${items.startsWith('one of') ? `values ${items}` : `${items}s`}`;
  }
  if (type === 'object') {
    const required = (schema.required as string[] | undefined) ?? [];
    return required.length ? `an object with ${required.join(', ')}` : 'an object';
  }
  if (type === 'boolean') return 'true or false';
  return 'a valid value';
}

/** The dotted path of a JSON pointer into `data` (`/roles/a/inherits/0` → `roles.a.inherits[0]`). */
export function pathOf(pointer: string, data: unknown): string {
  if (pointer === '') return '';
  let path = '';
  let node: unknown = data;
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    path += Array.isArray(node) ? `[${key}]` : path === '' ? key : `.${key}`;
    node = node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined;
  }
  return path;
}

const join = (path: string, key: string) => (path === '' ? key : `${path}.${key}`);

/**
 * One message per problem, each naming the full path: `rateLimits.defualt: unknown key (did you mean "default"?)`,
 * `rateLimits.default.limit must be an integer >= 1`, `roles.a.operations is required`.
 * `root` names the document itself and its own unknown keys (`policy`, `unknown policy key`).
 */
export function formatSchemaErrors(errors: readonly ErrorObject[], data: unknown, root = 'policy'): string[] {
  // The branches of a failed anyOf each report their own error; the anyOf error says it once.
  const anyOfPaths = errors.filter((e) => e.keyword === 'anyOf').map((e) => `${e.schemaPath}/`);
  const messages: string[] = [];
  for (const error of errors) {
    if (anyOfPaths.some((p) => error.schemaPath.startsWith(p))) continue;
    const path = pathOf(error.instancePath, data);
    const parent = error.parentSchema;
    switch (error.keyword) {
      case 'additionalProperties': {
        const key = (error.params as { additionalProperty: string }).additionalProperty;
        const known = Object.keys((parent?.properties as Schema | undefined) ?? {});
        const suggestion = suggestKey(key, known);
        const hint = suggestion ? `did you mean "${suggestion}"?` : `known keys: ${known.join(', ')}`;
        messages.push(`${join(path, key)}: unknown ${path === '' ? `${root} key` : 'key'} (${hint})`);
        break;
      }
      case 'required': {
        const key = (error.params as { missingProperty: string }).missingProperty;
        const property = (parent?.properties as Record<string, Schema> | undefined)?.[key];
        messages.push(`${join(path, key)} is required${property ? ` (${describeSchema(property)})` : ''}`);
        break;
      }
      default:
        messages.push(`${path === '' ? root : path} must be ${describeSchema(parent)}`);
    }
  }
  // Unknown keys first: a misspelled key often explains the missing one reported beside it.
  const unknown = messages.filter((m) => m.includes(': unknown '));
  return [...new Set([...unknown, ...messages.filter((m) => !m.includes(': unknown '))])];
}
