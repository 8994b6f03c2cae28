import { Type, type Static } from '@sinclair/typebox';
import { EnforcementMode, NameList, NamedMap, StrictObject } from '../schema/schema.builders';
import { ToolPatternList } from '../tools/tools.schema';

/** A role: the operation patterns it allows (`agent.read`, `agent.*`, `*`), roles it inherits, and ownership. */
export const RoleDefinitionSchema = StrictObject(
  {
    operations: NameList({ description: 'Operation patterns the role allows: exact, `resource.*` or `*`.' }),
    inherits: Type.Optional(NameList({ description: 'Roles whose operations this role also allows.' })),
    own: Type.Optional(Type.Boolean({ description: 'Holders of this role reach only records they own.' })),
    mode: Type.Optional(EnforcementMode('the role')),
    tools: Type.Optional(
      ToolPatternList('Tools this role may invoke (with operation `tool.invoke`): names or patterns. None: no tool.'),
    ),
  },
  { description: 'A role.' },
);
export type RoleDefinition = Static<typeof RoleDefinitionSchema>;

/** A scope and the scopes it implies (transitively). */
export const ScopeDefinitionSchema = StrictObject(
  { implies: Type.Optional(NameList({ description: 'Scopes this scope implies (transitively).' })) },
  { description: 'A scope.' },
);
export type ScopeDefinition = Static<typeof ScopeDefinitionSchema>;

/** The sections of the policy document that authorization reads. */
export const AUTHORIZATION_SECTIONS = {
  roles: NamedMap(RoleDefinitionSchema, { description: 'Roles by name.' }),
  scopes: Type.Optional(NamedMap(ScopeDefinitionSchema, { description: 'OAuth2 scopes by name and what they imply.' })),
  operations: Type.Optional(
    NameList({ description: 'Operations (`resource.action`) the app adds to the built-in catalogue.' }),
  ),
};
