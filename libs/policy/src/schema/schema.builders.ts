import {
  Type,
  type ObjectOptions,
  type SchemaOptions,
  type Static,
  type TProperties,
  type TSchema,
} from '@sinclair/typebox';

/**
 * Schema builders shared by every section of the policy document. Every object they build is closed
 * (`additionalProperties: false`): a misspelled key must fail the boot, never switch a control off.
 */

/** A closed object: only the listed properties are allowed. */
export const StrictObject = <T extends TProperties>(properties: T, options: ObjectOptions = {}) =>
  Type.Object(properties, { ...options, additionalProperties: false });

/** A map keyed by a free name (a role, a model, an operation) whose every entry follows `entry`. */
export const NamedMap = <T extends TSchema>(entry: T, options: SchemaOptions = {}) =>
  Type.Unsafe<Record<string, Static<T>>>({ ...options, type: 'object', additionalProperties: entry });

/** One of a fixed set of strings, emitted as a JSON Schema `enum` (a plain list for editors and error messages). */
export const StringEnum = <const T extends readonly string[]>(values: T, options: SchemaOptions = {}) =>
  Type.Unsafe<T[number]>({ ...options, type: 'string', enum: [...values] });

/**
 * `enforce` (default) refuses what the control would refuse; `shadow` lets it pass and audits it with outcome
 * `SHADOW_DENY`, to try a control on live traffic before it bites.
 */
export const EnforcementMode = (what: string) =>
  StringEnum(['enforce', 'shadow'] as const, {
    description: `enforce (default) refuses; shadow lets the request pass and audits what ${what} would have refused (outcome SHADOW_DENY).`,
  });

/** A number greater than zero. */
export const PositiveNumber = (options: SchemaOptions = {}) => Type.Number({ ...options, exclusiveMinimum: 0 });

/** A number of zero or more. */
export const NonNegativeNumber = (options: SchemaOptions = {}) => Type.Number({ ...options, minimum: 0 });

/** An integer of one or more. */
export const PositiveInteger = (options: SchemaOptions = {}) => Type.Integer({ ...options, minimum: 1 });

/** A list of non-empty strings. */
export const NameList = (options: SchemaOptions = {}) => Type.Array(Type.String({ minLength: 1 }), options);
