import type { ValueTransformer } from 'typeorm';

/**
 * Portable column conventions shared by every library entity, so the same entities and migrations run on
 * SQLite and PostgreSQL: times are epoch milliseconds in a `bigint`, money is integer micro-USD in a `bigint`,
 * lists are JSON in `text`.
 */
export const bigintNumber: ValueTransformer = {
  to: (value: number | null | undefined) => value,
  from: (value: string | number | null) => (value === null || value === undefined ? value : Number(value)),
};

export const jsonText: ValueTransformer = {
  to: (value: unknown) => (value === undefined ? null : JSON.stringify(value)),
  from: (value: string | null) => (value === null || value === undefined ? null : (JSON.parse(value) as unknown)),
};

/** 1 USD = 1,000,000 micro-USD. Costs are stored and compared as integers to avoid float drift. */
export const MICRO_USD = 1_000_000;
export const toMicroUsd = (usd: number): number => Math.round(usd * MICRO_USD);
export const fromMicroUsd = (micro: number): number => micro / MICRO_USD;
