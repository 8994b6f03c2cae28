import { Type } from '@sinclair/typebox';
import { NameList, PositiveNumber, StrictObject } from '../schema/schema.builders';

/** The `approvals` section of the policy document. */
export const ApprovalsConfigSchema = StrictObject(
  {
    operations: Type.Optional(NameList({ description: 'Operation patterns that always need a human approval.' })),
    ttl: Type.Optional(PositiveNumber({ description: 'Seconds a pending approval lives (default 900).' })),
  },
  { description: 'Human approvals.' },
);

/** The sections of the policy document that approvals read. */
export const APPROVAL_SECTIONS = { approvals: Type.Optional(ApprovalsConfigSchema) };
