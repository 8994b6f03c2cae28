import { Type } from '@sinclair/typebox';

/**
 * Tool names or patterns (`search_kb`, `ticket_*`, `*`) in the policy document. The boot checks each against the
 * registered tools; the schema checks the shape.
 */
export const ToolPatternList = (description: string) =>
  Type.Array(Type.String({ pattern: '^[a-z0-9_*]{1,64}$' }), { description });
