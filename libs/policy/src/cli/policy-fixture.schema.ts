import { Type, type Static } from '@sinclair/typebox';
import { NameList, StrictObject, StringEnum } from '../schema/schema.builders';

/** Who a fixture (or `explain`) asks for: a principal as the guards would see it. */
export const FixturePrincipalSchema = StrictObject({
  id: Type.Optional(Type.String({ minLength: 1 })),
  type: Type.Optional(StringEnum(['user', 'service', 'api-key'] as const)),
  roles: NameList(),
  /** Space-separated (as in a JWT `scope` claim) or a list. */
  scopes: Type.Optional(Type.Union([Type.String(), NameList()])),
  tenant: Type.Optional(Type.String({ minLength: 1 })),
  tier: Type.Optional(Type.String({ minLength: 1 })),
});

/** One expected decision of a policy file. */
export const PolicyFixtureSchema = StrictObject({
  name: Type.Optional(Type.String({ minLength: 1 })),
  principal: FixturePrincipalSchema,
  operation: Type.String({ minLength: 1 }),
  /** The scopes the route requires (its `@RequireScopes`). */
  scopes: Type.Optional(NameList()),
  expect: StringEnum(['ALLOW', 'DENY', 'REQUIRE_APPROVAL'] as const),
  /** The error code of a DENY (`forbidden`, `insufficient_scope`) or `approval_required`; checked when given. */
  code: Type.Optional(Type.String({ minLength: 1 })),
});

/** A fixtures file `{ fixtures: [...] }` (a bare list is read as that list). */
export const PolicyFixturesFileSchema = StrictObject({ fixtures: Type.Array(PolicyFixtureSchema, { minItems: 1 }) });

export type FixturePrincipal = Static<typeof FixturePrincipalSchema>;
export type PolicyFixture = Static<typeof PolicyFixtureSchema>;
