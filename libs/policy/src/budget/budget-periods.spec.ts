import { describe, expect, it } from '@jest/globals';
import { budgetWindow, windowEnd, windowStart } from './budget-periods';

const at = (iso: string): number => Date.parse(iso);
const iso = (ms: number): string => new Date(ms).toISOString();

describe('budget periods (UTC calendar)', () => {
  const now = at('2026-11-25T13:47:12.345Z'); // a Wednesday

  it.each([
    ['minute', '2026-11-25T13:47:00.000Z', '2026-11-25T13:48:00.000Z', '2026-11-25T13:47'],
    ['hour', '2026-11-25T13:00:00.000Z', '2026-11-25T14:00:00.000Z', '2026-11-25T13'],
    ['day', '2026-11-25T00:00:00.000Z', '2026-11-26T00:00:00.000Z', '2026-11-25'],
    ['week', '2026-11-23T00:00:00.000Z', '2026-11-30T00:00:00.000Z', '2026-W48'],
    ['month', '2026-11-01T00:00:00.000Z', '2026-12-01T00:00:00.000Z', '2026-11'],
  ] as const)('%s window', (period, start, end, label) => {
    expect(budgetWindow(period, now)).toEqual({ period, start: at(start), end: at(end), label });
  });

  it('a week starts on Monday 00:00 UTC, also when now is a Sunday night', () => {
    const sunday = at('2026-11-29T23:59:59.999Z');
    expect(iso(windowStart('week', sunday))).toBe('2026-11-23T00:00:00.000Z');
    const monday = sunday + 1;
    expect(iso(windowStart('week', monday))).toBe('2026-11-30T00:00:00.000Z');
    expect(budgetWindow('week', monday).label).toBe('2026-W49');
  });

  it.each([
    ['2026-01-01T12:00:00Z', '2026-W01', '2025-12-29T00:00:00.000Z'], // Thursday: week 1 of 2026
    ['2027-01-01T12:00:00Z', '2026-W53', '2026-12-28T00:00:00.000Z'], // Friday: last week of 2026
    ['2024-12-30T12:00:00Z', '2025-W01', '2024-12-30T00:00:00.000Z'], // Monday already in 2025's week 1
    ['2021-01-03T12:00:00Z', '2020-W53', '2020-12-28T00:00:00.000Z'],
  ])('ISO week label of %s is %s', (time, label, start) => {
    expect(budgetWindow('week', at(time))).toMatchObject({ label, start: at(start) });
  });

  it('months roll over at the year end and have their real length', () => {
    expect(iso(windowEnd('month', at('2026-12-31T23:59:59.999Z')))).toBe('2027-01-01T00:00:00.000Z');
    expect(budgetWindow('month', at('2027-01-01T00:00:00.000Z')).label).toBe('2027-01');
    expect(iso(windowEnd('month', at('2028-02-10T00:00:00Z')))).toBe('2028-03-01T00:00:00.000Z');
    expect(windowEnd('month', at('2028-02-10T00:00:00Z')) - windowStart('month', at('2028-02-10T00:00:00Z'))).toBe(
      29 * 86_400_000,
    );
  });

  it('on a fake clock, a window ends exactly at the next one’s start', () => {
    let clock = at('2026-11-30T23:59:59.000Z');
    for (const period of ['minute', 'hour', 'day', 'month'] as const) {
      const before = budgetWindow(period, clock);
      const after = budgetWindow(period, before.end);
      expect(after.start).toBe(before.end);
      expect(after.label).not.toBe(before.label);
      expect(budgetWindow(period, before.end - 1).label).toBe(before.label);
    }
    clock += 1000;
    expect(budgetWindow('month', clock).label).toBe('2026-12');
    expect(budgetWindow('day', clock).label).toBe('2026-12-01');
  });
});
