import type { BudgetPeriod } from '../policy-module-options.interface';

/** Every budget period, shortest first. */
export const BUDGET_PERIODS: readonly BudgetPeriod[] = ['minute', 'hour', 'day', 'week', 'month'];

/** One UTC-calendar window of a budget period: `[start, end)` in epoch milliseconds, and a stable label. */
export interface BudgetWindow {
  readonly period: BudgetPeriod;
  readonly start: number;
  readonly end: number;
  /** `2026-11-23T10:05`, `2026-11-23T10`, `2026-11-23`, `2026-W48` (ISO week), `2026-11`. */
  readonly label: string;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const pad = (value: number, width = 2): string => String(value).padStart(width, '0');

/** Start (inclusive) of the UTC-calendar window of `period` that contains `now`. */
export function windowStart(period: BudgetPeriod, now: number): number {
  const d = new Date(now);
  switch (period) {
    case 'minute':
      return Math.floor(now / MINUTE) * MINUTE;
    case 'hour':
      return Math.floor(now / HOUR) * HOUR;
    case 'day':
      return Math.floor(now / DAY) * DAY;
    case 'week': {
      // ISO weeks start on Monday; getUTCDay() answers 0 for Sunday.
      const dayStart = Math.floor(now / DAY) * DAY;
      const sinceMonday = (d.getUTCDay() + 6) % 7;
      return dayStart - sinceMonday * DAY;
    }
    case 'month':
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  }
}

/** End (exclusive) of the UTC-calendar window of `period` that contains `now`: when the budget resets. */
export function windowEnd(period: BudgetPeriod, now: number): number {
  switch (period) {
    case 'minute':
      return windowStart(period, now) + MINUTE;
    case 'hour':
      return windowStart(period, now) + HOUR;
    case 'day':
      return windowStart(period, now) + DAY;
    case 'week':
      return windowStart(period, now) + 7 * DAY;
    case 'month': {
      const d = new Date(now);
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
    }
  }
}

/** ISO-8601 week-numbering year and week of a UTC day. */
function isoWeek(dayStart: number): { year: number; week: number } {
  const d = new Date(dayStart);
  // The Thursday of this ISO week decides which year the week belongs to.
  const thursday = dayStart + (3 - ((d.getUTCDay() + 6) % 7)) * DAY;
  const year = new Date(thursday).getUTCFullYear();
  const week = Math.floor((thursday - Date.UTC(year, 0, 1)) / (7 * DAY)) + 1;
  return { year, week };
}

function label(period: BudgetPeriod, start: number): string {
  const d = new Date(start);
  const date = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
  switch (period) {
    case 'minute':
      return `${date}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
    case 'hour':
      return `${date}T${pad(d.getUTCHours())}`;
    case 'day':
      return date;
    case 'week': {
      const { year, week } = isoWeek(start);
      return `${year}-W${pad(week)}`;
    }
    case 'month':
      return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}`;
  }
}

/** The last window computed per period: calls in the same window (nearly all of them) reuse it. */
const lastWindow = new Map<BudgetPeriod, BudgetWindow>();

/** The window of `period` containing `now` (epoch ms), aligned to the UTC calendar. */
export function budgetWindow(period: BudgetPeriod, now: number): BudgetWindow {
  const last = lastWindow.get(period);
  if (last && now >= last.start && now < last.end) return last;
  const start = windowStart(period, now);
  const window: BudgetWindow = Object.freeze({
    period,
    start,
    end: windowEnd(period, now),
    label: label(period, start),
  });
  lastWindow.set(period, window);
  return window;
}
