import { Type } from '@sinclair/typebox';
import { NameList, PositiveInteger, PositiveNumber, StrictObject } from '../schema/schema.builders';
import { ToolPatternList } from '../tools/tools.schema';

/** The `approvals` section of the policy document. */
export const ApprovalsConfigSchema = StrictObject(
  {
    operations: Type.Optional(NameList({ description: 'Operation patterns that always need a human approval.' })),
    tools: Type.Optional(ToolPatternList('Tools (names or patterns) whose every call needs a human approval.')),
    ttl: Type.Optional(PositiveNumber({ description: 'Seconds a pending approval lives (default 900).' })),
    maxPendingPerPrincipal: Type.Optional(
      PositiveInteger({
        description:
          'Most approvals one principal may have pending at once (default 20); past it a new request is 429 rate_limited.',
      }),
    ),
  },
  { description: 'Human approvals.' },
);

/** The sections of the policy document that approvals read. */
export const APPROVAL_SECTIONS = { approvals: Type.Optional(ApprovalsConfigSchema) };
