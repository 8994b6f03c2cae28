import { describe, expect, it } from '@jest/globals';
import { parseRepeat } from './run.dto';
describe('parseRepeat', () => {
  it('accepts a count from 1 to 10000 or a boolean', () => {
    expect(parseRepeat(undefined)).toBe(1);
    expect(parseRepeat(false)).toBe(1);
    expect(parseRepeat(true)).toBe(true);
    expect(parseRepeat(7)).toBe(7);
    for (const bad of [0, -1, 1.5, 10_001, '3', null, {}]) expect(parseRepeat(bad)).toBeNull();
  });
});
