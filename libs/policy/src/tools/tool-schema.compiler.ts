import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { sanitizeContent, type SanitizeMode } from './tool-content.sanitizer';
import type { ToolInputSchema } from './agent-tool.interface';

/** The outcome of validating a call's arguments: the cleaned value, or the errors naming each JSON path. */
export type ToolArgumentsCheck =
  | { readonly ok: true; readonly value: Record<string, unknown> }
  | { readonly ok: false; readonly errors: readonly string[]; readonly path: string };

/** A tool's input schema, compiled once at boot. */
export interface CompiledToolSchema {
  /** The schema as enforced (objects closed unless the schema opens them). */
  readonly schema: ToolInputSchema;
  /** Validates a copy of `args`, applying defaults and `x-sanitize`; never mutates `args`. */
  check(args: unknown): ToolArgumentsCheck;
}

const COMBINATORS = ['allOf', 'anyOf', 'oneOf', 'not', 'if', 'then', 'else'];
const SUBSCHEMA_MAPS = ['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas'];
const SUBSCHEMAS = [
  'items',
  'additionalItems',
  'contains',
  'propertyNames',
  'unevaluatedItems',
  'additionalProperties',
];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Closes every object schema that does not say otherwise (`additionalProperties: false`), except inside
 * combinators (`allOf`, `anyOf`…), where closing a branch would reject the other branches' properties.
 * Returns a copy. Pure.
 */
export function closeObjectSchemas(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(closeObjectSchemas);
  if (!isObject(schema)) return schema;
  const out: Record<string, unknown> = { ...schema };
  const types = Array.isArray(out.type) ? out.type : [out.type];
  const isObjectSchema = types.includes('object') || isObject(out.properties);
  const open = 'additionalProperties' in out || 'unevaluatedProperties' in out || COMBINATORS.some((k) => k in out);
  if (isObjectSchema && !open) out.additionalProperties = false;
  for (const key of SUBSCHEMA_MAPS) {
    const map = out[key];
    if (isObject(map)) out[key] = Object.fromEntries(Object.entries(map).map(([k, v]) => [k, closeObjectSchemas(v)]));
  }
  for (const key of SUBSCHEMAS) if (key in out) out[key] = closeObjectSchemas(out[key]);
  if (Array.isArray(out.prefixItems)) out.prefixItems = out.prefixItems.map(closeObjectSchemas);
  return out;
}

// A property name from the caller, safe to print in an error (no markup, no huge keys).
const printable = (name: unknown): string =>
  String(name)
    .replace(/[^\w.$-]/g, '?')
    .slice(0, 64);
const escapePointer = (name: string): string => name.replace(/~/g, '~0').replace(/\//g, '~1');

/** `/priority must be equal to one of: low, normal, high`: one line per error, the JSON path first. Pure. */
export function describeSchemaError(error: ErrorObject): { path: string; message: string } {
  const base = error.instancePath || '';
  const params = error.params as Record<string, unknown>;
  if (error.keyword === 'required') {
    const path = `${base}/${escapePointer(printable(params.missingProperty))}`;
    return { path, message: `${path} is required` };
  }
  if (error.keyword === 'additionalProperties' || error.keyword === 'unevaluatedProperties') {
    const name = params.additionalProperty ?? params.unevaluatedProperty;
    const path = `${base}/${escapePointer(printable(name))}`;
    return { path, message: `${path} is not allowed` };
  }
  const path = base || '/';
  if (error.keyword === 'enum' && Array.isArray(params.allowedValues)) {
    return {
      path,
      message: `${path} must be one of: ${params.allowedValues.map((v) => JSON.stringify(v)).join(', ')}`,
    };
  }
  return { path, message: `${path} ${error.message ?? 'is invalid'}` };
}

function createAjv(): Ajv2020 {
  const ajv = new Ajv2020({
    strict: true,
    allErrors: false,
    useDefaults: true,
    allowUnionTypes: true,
    coerceTypes: false,
  });
  addFormats(ajv);
  ajv.addKeyword({
    keyword: 'x-sanitize',
    type: 'string',
    modifying: true,
    metaSchema: { enum: ['text', 'html'] },
    validate: (
      mode: SanitizeMode,
      data: string,
      _parent?: unknown,
      cxt?: { parentData: Record<string | number, unknown>; parentDataProperty: string | number },
    ) => {
      if (cxt && cxt.parentData !== undefined) cxt.parentData[cxt.parentDataProperty] = sanitizeContent(mode, data);
      return true;
    },
  });
  return ajv;
}

let shared: Ajv2020 | undefined;

/**
 * Compiles a tool's input schema (JSON Schema 2020-12, strict: an unknown keyword or format is an error).
 * The root must be an object schema.
 * @throws Error describing what is wrong with the schema.
 */
export function compileToolSchema(input: ToolInputSchema): CompiledToolSchema {
  if (!isObject(input)) throw new Error('input must be a JSON Schema object');
  if (input.type !== 'object') throw new Error('input must have type "object" (the arguments are an object)');
  const schema = closeObjectSchemas(input) as ToolInputSchema;
  shared ??= createAjv();
  const { $id: _id, ...anonymous } = schema;
  const validate: ValidateFunction = shared.compile(anonymous);
  return {
    schema,
    check(args: unknown): ToolArgumentsCheck {
      let copy: unknown;
      try {
        copy = args === undefined ? {} : structuredClone(args);
      } catch {
        return { ok: false, errors: ['/ must be JSON data'], path: '/' };
      }
      // `x-sanitize` rewrites strings while validating, after their own checks (minLength, pattern…): the cleaned
      // copy is validated once more, so what the tool receives meets the schema too (markup-only text is not "").
      if (validate(copy) && validate(copy)) return { ok: true, value: copy as Record<string, unknown> };
      const described = (validate.errors ?? []).map(describeSchemaError);
      if (!described.length) return { ok: false, errors: ['/ is invalid'], path: '/' };
      return { ok: false, errors: described.map((d) => d.message), path: described[0].path };
    },
  };
}
