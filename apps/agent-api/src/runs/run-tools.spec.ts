import { describe, expect, it } from '@jest/globals';
import { parseRepeat } from './run.dto';
import { parseToolCall } from './run-tools';

describe('parseToolCall', () => {
  it('reads `/tool <name> <json args>`', () => {
    expect(parseToolCall('/tool search_kb {"query":"refund"}')).toEqual({ name: 'search_kb', args: { query: 'refund' } });
    expect(parseToolCall('  /tool run_js   {"code":"1+1"}  ')).toEqual({ name: 'run_js', args: { code: '1+1' } });
    expect(parseToolCall('/tool get_customer_info')).toEqual({ name: 'get_customer_info', args: {} });
  });

  it('answers null for a plain message or bad JSON', () => {
    expect(parseToolCall('hello /tool x {}')).toBeNull();
    expect(parseToolCall('/tool search_kb {query}')).toBeNull();
    expect(parseToolCall('/tool')).toBeNull();
    expect(parseToolCall('/toolsearch {}')).toBeNull();
  });
});

describe('parseRepeat', () => {
  it('accepts a count from 1 to 10000 or a boolean', () => {
    expect(parseRepeat(undefined)).toBe(1);
    expect(parseRepeat(false)).toBe(1);
    expect(parseRepeat(true)).toBe(true);
    expect(parseRepeat(7)).toBe(7);
    for (const bad of [0, -1, 1.5, 10_001, '3', null, {}]) expect(parseRepeat(bad)).toBeNull();
  });
});
