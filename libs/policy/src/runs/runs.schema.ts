import { Type, type Static } from '@sinclair/typebox';
import { PositiveInteger, PositiveNumber, StrictObject, StringEnum } from '../schema/schema.builders';

/** The `runs` section of the policy document: the guards of every agent run. Every limit is optional. */
export const RunLimitsSchema = StrictObject(
  {
    maxSteps: Type.Optional(PositiveInteger({ description: 'Model steps a run may take.' })),
    maxToolCalls: Type.Optional(PositiveInteger({ description: 'Tool calls a run may make.' })),
    maxCost: Type.Optional(PositiveNumber({ description: 'USD a run may spend.' })),
    maxTokens: Type.Optional(PositiveInteger({ description: 'Tokens (input plus output) a run may use.' })),
    maxSeconds: Type.Optional(PositiveNumber({ description: 'Wall-clock seconds a run may last.' })),
    maxRepeats: Type.Optional(
      PositiveInteger({
        description: 'Calls of one tool with the same (canonical JSON) arguments a run may make; one more is a loop.',
      }),
    ),
    onLimit: Type.Optional(
      StringEnum(['stop', 'approval'] as const, {
        description: 'At a limit: stop the run (default), or pause it for a human approval that raises the limit once.',
      }),
    ),
  },
  { description: 'Guards of agent runs.' },
);
export type RunLimits = Static<typeof RunLimitsSchema>;

/** The sections of the policy document that runs read. */
export const RUN_SECTIONS = { runs: Type.Optional(RunLimitsSchema) };
