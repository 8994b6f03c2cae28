/**
 * keepNextTickShape: what is kept is one of `process.nextTick`'s own queue entries, and the entries made after full
 * garbage collections still have its hidden class. Holding any live entry has that effect: it is the mechanism, and
 * these tests show the helper sets it up (through the function and through the side-effect import). They cannot show
 * the class being replaced without it (V8's runtime call counters are compiled out of Node's release builds); what the
 * kept entry saves is measured with callgrind and perf (README, Benchmarks). Run in a child process with V8's test
 * natives (`%HaveSameMap`) and `gc()`, the helper compiled from its source as it is.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';

const SOURCES = join(__dirname, '../../libs/policy/src');

/** The entry of one nextTick callback, read as the helper reads it. */
const PROBE = `
const { executionAsyncResource } = require('node:async_hooks');
const { keepNextTickShape, keptNextTickEntry } = require('./common/tick-shape.js');
const entry = () => new Promise((resolve) => process.nextTick(() => resolve(executionAsyncResource())));
const settle = () => new Promise((resolve) => setImmediate(resolve));
(async () => {
  // 'import': the side-effect entry point an app imports first; 'keep': the function PolicyModule calls.
  if (process.argv[2] === 'import') require('./keep-next-tick-shape.js');
  if (process.argv[2] === 'keep') keepNextTickShape();
  await settle();
  const first = await entry();
  const firstShape = { symbols: Object.getOwnPropertySymbols(first).map(String), keys: Object.keys(first) };
  const isEntry = (value) =>
    value !== null && typeof value === 'object' && typeof value.callback === 'function' && 'args' in value &&
    Object.getOwnPropertySymbols(value).map(String).includes('Symbol(async_id_symbol)');
  // Entries of nextTick calls with one argument, as Node's streams make them.
  const withArg = () => new Promise((resolve) => process.nextTick((x) => resolve([x, executionAsyncResource()]), 1));
  const [, before] = await withArg();
  const sameBefore = %HaveSameMap(before, (await withArg())[1]);
  // Full collections while no entry but the kept one is alive: the entries made after each share the kept one's map.
  const kept = keptNextTickEntry();
  let sameAfter = kept !== null;
  for (let i = 0; i < 4 && kept; i++) {
    globalThis.gc();
    await settle();
    globalThis.gc();
    const [, b] = await withArg();
    sameAfter = sameAfter && %HaveSameMap(kept, b);
  }
  process.stdout.write(JSON.stringify({ firstShape, sameBefore, sameAfter, kept: kept !== null && typeof kept === 'object', keptIsEntry: isEntry(kept) }));
})();
`;

describe('keepNextTickShape', () => {
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tick-shape-'));
    mkdirSync(join(dir, 'common'));
    for (const file of ['common/tick-shape', 'keep-next-tick-shape']) {
      const out = ts.transpileModule(readFileSync(join(SOURCES, `${file}.ts`), 'utf8'), {
        compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 },
      });
      writeFileSync(join(dir, `${file}.js`), out.outputText);
    }
    writeFileSync(join(dir, 'probe.js'), PROBE);
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const run = (mode: 'keep' | 'import' | 'none') =>
    JSON.parse(
      execFileSync(process.execPath, ['--allow-natives-syntax', '--expose-gc', join(dir, 'probe.js'), mode], {
        encoding: 'utf8',
        timeout: 30_000,
      }),
    ) as {
      firstShape: { symbols: string[]; keys: string[] };
      sameBefore: boolean;
      sameAfter: boolean;
      kept: boolean;
      keptIsEntry: boolean;
    };

  it('reads a nextTick queue entry as the execution resource of its callback', () => {
    const result = run('none');
    // Node 20 has these two symbol keys; newer versions add a third (the async context frame).
    expect(result.firstShape.symbols).toEqual(
      expect.arrayContaining(['Symbol(async_id_symbol)', 'Symbol(trigger_async_id_symbol)']),
    );
    expect(result.firstShape.keys).toEqual(['callback', 'args']);
    expect(result.sameBefore).toBe(true);
  });

  it('keeps nothing unless asked', () => {
    expect(run('none').kept).toBe(false);
  });

  it('keeps one entry, whose hidden class the entries made after full collections share', () => {
    const result = run('keep');
    expect(result.kept).toBe(true);
    expect(result.keptIsEntry).toBe(true);
    expect(result.sameAfter).toBe(true);
  });

  it('keeps one as soon as nest-agent-policy/keep-next-tick-shape is imported', () => {
    const result = run('import');
    expect(result.keptIsEntry).toBe(true);
    expect(result.sameAfter).toBe(true);
  });
});
