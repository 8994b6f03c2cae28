import { ValidateBy, type ValidationOptions } from 'class-validator';

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-](\d{2}):?(\d{2}))?)?$/;

/**
 * Whether `value` is an ISO 8601 calendar date (`2024-01-31`) or date-time (`2024-01-31T12:00:00Z`, with an optional
 * fraction and offset) naming a real instant. `IsDateString` also passes week dates (`2024-W01`) and impossible days
 * (`2024-02-30`), which `Date.parse` turns into NaN or another day.
 */
export function isIsoDate(value: unknown): boolean {
  if (typeof value !== 'string' || value.length > 40) return false;
  const match = ISO_DATE.exec(value);
  if (!match) return false;
  const [, y, mo, d, h = '0', mi = '0', s = '0', oh = '0', om = '0'] = match;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  if (year < 1 || month < 1 || month > 12 || day < 1) return false;
  const daysInMonth = new Date(Date.UTC(2000, month, 0)).getUTCDate() - (month === 2 && !isLeap(year) ? 1 : 0);
  if (day > daysInMonth) return false;
  if (Number(h) > 23 || Number(mi) > 59 || Number(s) > 59 || Number(oh) > 23 || Number(om) > 59) return false;
  return Number.isFinite(Date.parse(value));
}

const isLeap = (year: number): boolean => (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;

/** class-validator rule: {@link isIsoDate}. */
export function IsIsoDate(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isIsoDate',
      validator: {
        validate: (value: unknown) => isIsoDate(value),
        defaultMessage: () => '$property must be an ISO 8601 date or date-time (e.g. 2024-01-31T12:00:00Z)',
      },
    },
    options,
  );
}
