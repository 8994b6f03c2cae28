import { Type, type Static } from '@sinclair/typebox';
import { EnforcementMode, NamedMap, NonNegativeNumber, PositiveNumber, StrictObject } from '../schema/schema.builders';

/** Limits of one period: `cost` in USD, `tokens`, `requests`. */
export const BudgetLimitsSchema = StrictObject(
  {
    cost: Type.Optional(PositiveNumber({ description: 'USD.' })),
    tokens: Type.Optional(PositiveNumber({ description: 'Input plus output tokens.' })),
    requests: Type.Optional(PositiveNumber({ description: 'Calls.' })),
  },
  { description: 'Limits of one period.' },
);
export type BudgetLimits = Static<typeof BudgetLimitsSchema>;

/** The limits of one budget scope, by period (UTC-calendar aligned). */
export const BudgetPeriodsSchema = StrictObject(
  {
    minute: Type.Optional(BudgetLimitsSchema),
    hour: Type.Optional(BudgetLimitsSchema),
    day: Type.Optional(BudgetLimitsSchema),
    week: Type.Optional(BudgetLimitsSchema),
    month: Type.Optional(BudgetLimitsSchema),
  },
  { description: 'Limits by period.' },
);

const percent = (description: string) => Type.Optional(Type.Number({ description, exclusiveMinimum: 0, maximum: 100 }));

/** The `budgets` section of the policy document. */
export const BudgetConfigSchema = StrictObject(
  {
    softLimitPercent: percent('Percent used past which responses carry X-Budget-Warning (default 80).'),
    approvalAbovePercent: percent('Percent used past which a call needs a human approval.'),
    principal: Type.Optional(BudgetPeriodsSchema),
    'api-key': Type.Optional(BudgetPeriodsSchema),
    tenant: Type.Optional(BudgetPeriodsSchema),
    global: Type.Optional(BudgetPeriodsSchema),
    session: Type.Optional(BudgetPeriodsSchema),
    run: Type.Optional(BudgetPeriodsSchema),
    reservationTtl: Type.Optional(
      PositiveNumber({ description: 'Seconds an unsettled reservation lives before it expires (default 300).' }),
    ),
    mode: Type.Optional(EnforcementMode('a budget')),
  },
  { description: 'Cost, token and request budgets.' },
);
export type BudgetConfig = Static<typeof BudgetConfigSchema>;

/** USD per 1M tokens. */
export const ModelPriceSchema = StrictObject(
  {
    input: NonNegativeNumber({ description: 'USD per 1M input tokens.' }),
    output: NonNegativeNumber({ description: 'USD per 1M output tokens.' }),
    cachedInput: Type.Optional(NonNegativeNumber({ description: 'USD per 1M cached input tokens.' })),
  },
  { description: 'USD per 1M tokens.' },
);
export type ModelPrice = Static<typeof ModelPriceSchema>;

/** The sections of the policy document that budgets read. */
export const BUDGET_SECTIONS = {
  budgets: Type.Optional(BudgetConfigSchema),
  pricing: Type.Optional(NamedMap(ModelPriceSchema, { description: 'Prices by model id (USD per 1M tokens).' })),
};
