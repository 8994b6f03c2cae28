import { AUDIT_STRING_LIMIT, boundForAudit, redactArguments } from './tool-arguments.redaction';
import { ToolConcurrencyLimiter } from './tool-concurrency.limiter';
import { defineTool, functionSource } from './tool-definition';

const base = { name: 'ok_tool', description: 'd', input: { type: 'object' } };

describe('tool definitions', () => {
  it('checks names and options, naming the tool', () => {
    expect(() => defineTool({ ...base, name: 'Bad-Name' }, 'X.m')).toThrow(
      '@AgentTool on X.m: name "Bad-Name" must match',
    );
    expect(() => defineTool({ ...base, name: 'a'.repeat(65) }, 'X.m')).toThrow('must match');
    expect(() => defineTool({ ...base, name: '9lives' }, 'X.m')).toThrow('must match');
    expect(defineTool({ ...base, name: 'a'.repeat(64) }, 'X.m').name).toHaveLength(64);
    expect(() =>
      defineTool({ ...base, input: { type: 'object', properties: { a: { type: 'nope' } } } }, 'X.m'),
    ).toThrow('@AgentTool ok_tool (X.m): invalid input schema');
    expect(() => defineTool({ ...base, timeoutMs: 0 }, 'X.m')).toThrow('timeoutMs must be a positive integer');
    expect(() => defineTool({ ...base, maxConcurrent: 1.5 }, 'X.m')).toThrow('maxConcurrent');
    expect(() => defineTool({ ...base, cost: { usd: -1 } }, 'X.m')).toThrow('cost.usd');
    expect(() => defineTool({ ...base, sandbox: { env: [''] } }, 'X.m')).toThrow('sandbox.env');
  });

  it('fills defaults', () => {
    const tool = defineTool({ ...base, sandbox: {}, cost: { usd: 0.5 } }, 'X.m');
    expect(tool).toMatchObject({
      timeoutMs: 10_000,
      maxConcurrent: null,
      approval: false,
      cost: { requests: 1, usd: 0.5 },
    });
    expect(tool.sandbox).toEqual({ env: [], memoryMb: 128, readPaths: [] });
  });

  it('turns method, function and arrow sources into function expressions that evaluate to the tool', async () => {
    class Holder {
      async method(args: { n: number }) {
        return args.n * 2;
      }
    }
    const sources = [
      Function.prototype.toString.call(Holder.prototype.method),
      'function (args) { return args.n * 2; }',
      '(args) => args.n * 2',
      'async args => args.n * 2',
    ];
    for (const source of sources) {
      // eslint-disable-next-line @typescript-eslint/no-implied-eval -- the source is evaluated as the sandbox would
      const fn = new Function(`return ${functionSource(source)};`)() as (a: { n: number }) => unknown;
      await expect(Promise.resolve(fn({ n: 21 }))).resolves.toBe(42);
    }
    expect(() => functionSource(Function.prototype.toString.call(Math.max))).toThrow('native');
  });
});

describe('argument redaction', () => {
  it('redacts dotted paths and wildcards on a copy', () => {
    const args = { card: { number: '4111', exp: '12/30' }, items: [{ token: 'a' }, { token: 'b' }], note: 'x' };
    expect(redactArguments(args, ['card.number', 'items.*.token', 'missing.path'])).toEqual({
      card: { number: '[REDACTED]', exp: '12/30' },
      items: [{ token: '[REDACTED]' }, { token: '[REDACTED]' }],
      note: 'x',
    });
    expect(args.card.number).toBe('4111');
  });

  it('cuts long strings for the audit log', () => {
    const out = boundForAudit({ text: 'x'.repeat(AUDIT_STRING_LIMIT + 10), list: ['short'] }) as {
      text: string;
      list: string[];
    };
    expect(out.text).toBe(`${'x'.repeat(AUDIT_STRING_LIMIT)}…[+10 chars]`);
    expect(out.list).toEqual(['short']);
  });
});

describe('ToolConcurrencyLimiter', () => {
  it('caps calls per key and gives each slot back once', () => {
    const limiter = new ToolConcurrencyLimiter();
    const a = limiter.tryAcquire('k', 2);
    const b = limiter.tryAcquire('k', 2);
    expect(limiter.tryAcquire('k', 2)).toBeNull();
    expect(limiter.tryAcquire('other', 2)).not.toBeNull();
    a!();
    a!();
    expect(limiter.count('k')).toBe(1);
    expect(limiter.tryAcquire('k', 2)).not.toBeNull();
    b!();
  });
});
