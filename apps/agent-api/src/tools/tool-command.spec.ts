import { MAX_TOOL_COMMANDS, parseToolCommands } from './tool-command';

describe('parseToolCommands', () => {
  it('reads /tool lines with JSON arguments, defaulting to {}', () => {
    expect(parseToolCommands('hello\n/tool search_kb {"query":"refund"}\n  /tool get_customer_info\nbye')).toEqual([
      { name: 'search_kb', args: { query: 'refund' }, raw: '{"query":"refund"}' },
      { name: 'get_customer_info', args: {}, raw: '' },
    ]);
  });

  it('marks arguments that are not a JSON object', () => {
    expect(parseToolCommands('/tool a [1,2]\n/tool b {oops\n/tool c "x"').map((c) => c.args)).toEqual([
      null,
      null,
      null,
    ]);
  });

  it('ignores text that merely mentions /tool, and caps the number of calls', () => {
    expect(parseToolCommands('use the /tool command')).toEqual([]);
    expect(parseToolCommands(Array(20).fill('/tool search_kb').join('\n'))).toHaveLength(MAX_TOOL_COMMANDS);
  });
});
