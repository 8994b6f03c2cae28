import { Type, type Static } from '@sinclair/typebox';
import { ALERTS_SECTIONS } from '../alerts/alerts.schema';
import { APPROVAL_SECTIONS } from '../approval/approval.schema';
import { AUDIT_SECTIONS } from '../audit/audit.schema';
import { API_KEY_SECTIONS } from '../authentication/api-keys.schema';
import { JwtOptionsSchema } from '../authentication/jwt-options.schema';
import { AUTHORIZATION_SECTIONS } from '../authorization/authorization.schema';
import { BUDGET_SECTIONS } from '../budget/budget.schema';
import { RATE_LIMIT_SECTIONS } from '../rate-limit/rate-limit.schema';
import { RUN_SECTIONS } from '../runs/runs.schema';
import { StrictObject, StringEnum } from './schema.builders';

/**
 * The policy document, composed from one schema module per capability. To add a section, write
 * `<capability>/<capability>.schema.ts` exporting `<CAPABILITY>_SECTIONS = { key: Type.Optional(schema) }` and
 * spread it here: the boot validation, the shipped `policy.schema.json` and the `PolicyDocument` type follow.
 */
export const POLICY_SECTIONS = {
  ...AUTHORIZATION_SECTIONS,
  ...RATE_LIMIT_SECTIONS,
  ...BUDGET_SECTIONS,
  ...APPROVAL_SECTIONS,
  ...AUDIT_SECTIONS,
  ...API_KEY_SECTIONS,
  ...RUN_SECTIONS,
  ...ALERTS_SECTIONS,
};

/** The policy file (JSON or YAML) and the policy part of `PolicyModule.forRoot` options. */
export const PolicyDocumentSchema = StrictObject(POLICY_SECTIONS, {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  title: 'nest-agent-policy policy document',
  description:
    'Roles, scopes, rate limits, budgets, prices, approvals, audit settings, run guards and anomaly alerts of nest-agent-policy.',
});

/** The policy document: what the app's policy file holds (JSON or YAML), validated at boot. */
export type PolicyDocument = Static<typeof PolicyDocumentSchema>;

/**
 * The JSON-serialisable options of `PolicyModule.forRoot`: the policy document plus the module settings.
 * `policy` and `providers` hold classes and providers, which only TypeScript checks; they are listed so that
 * a misspelling of them is still reported.
 */
export const PolicyModuleSettingsSchema = StrictObject({
  ...POLICY_SECTIONS,
  mode: Type.Optional(StringEnum(['development', 'production'] as const)),
  jwt: Type.Optional(JwtOptionsSchema),
  trustProxy: Type.Optional(Type.Union([Type.Boolean(), Type.Number(), Type.String(), Type.Array(Type.String())])),
  redisUrl: Type.Optional(Type.String()),
  policy: Type.Optional(Type.Unsafe<unknown>({})),
  providers: Type.Optional(Type.Array(Type.Unsafe<unknown>({}))),
});

/** The text of the JSON Schema shipped as `nest-agent-policy/policy.schema.json` (written at build). */
export function policyJsonSchemaText(): string {
  return `${JSON.stringify(PolicyDocumentSchema, null, 2)}\n`;
}
