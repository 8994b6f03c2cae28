import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import type { TSchema } from '@sinclair/typebox';
import { PolicyDocumentSchema, PolicyModuleSettingsSchema, type PolicyDocument } from './policy-document.schema';
import { formatSchemaErrors } from './schema-error.formatter';

const ajv = new Ajv2020({ allErrors: true, verbose: true, strict: true, strictNumbers: true });
const compiled = new Map<TSchema, ValidateFunction>();

function validatorFor(schema: TSchema): ValidateFunction {
  let validate = compiled.get(schema);
  if (!validate) {
    validate = ajv.compile(schema);
    compiled.set(schema, validate);
  }
  return validate;
}

/** Every problem `schema` finds in `data`, one message each, naming the path; empty when valid. */
export function schemaProblems(schema: TSchema, data: unknown, root = 'policy'): string[] {
  const validate = validatorFor(schema);
  return validate(data) ? [] : formatSchemaErrors(validate.errors ?? [], data, root);
}

function assertValid(schema: TSchema, data: unknown, root: string): void {
  const problems = schemaProblems(schema, data, root);
  if (problems.length > 0) throw new Error(problems.join('; '));
}

/**
 * Checks the shape of a policy document against its schema: every key known at every depth, every value of the
 * expected type. Semantic checks (unknown roles, operations, prices, keys) run after, in `compilePolicy`.
 * @throws Error listing each problem with its path (`rateLimits.defualt: unknown key (did you mean "default"?)`).
 */
export function assertPolicyDocument(document: unknown): asserts document is PolicyDocument {
  assertValid(PolicyDocumentSchema, document, 'policy');
}

/**
 * Checks the shape of `PolicyModule.forRoot` options: the policy document plus the module settings.
 * @throws Error listing each problem with its path (`jwt.secert: unknown key (did you mean "secret"?)`).
 */
export function assertPolicyModuleOptions(options: unknown): void {
  assertValid(PolicyModuleSettingsSchema, options, 'policy');
}
