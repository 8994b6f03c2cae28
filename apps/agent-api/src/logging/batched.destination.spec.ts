import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import ts from 'typescript';
import { BatchedDestination, type FlushableDestination } from './batched.destination';

class Recorder implements FlushableDestination {
  writes: string[] = [];
  syncFlushes = 0;
  write(chunk: string): void {
    this.writes.push(chunk);
  }
  flushSync(): void {
    this.syncFlushes++;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('BatchedDestination', () => {
  it('hands the lines gathered to the target as one write, in order, once the first has waited maxDelayMs', async () => {
    const target = new Recorder();
    const destination = new BatchedDestination(target, { maxDelayMs: 20 });
    destination.write('a\n');
    destination.write('b\n');
    destination.write('c\n');
    await new Promise((resolve) => setImmediate(resolve));
    expect(target.writes).toEqual([]);
    await sleep(60);
    expect(target.writes).toEqual(['a\nb\nc\n']);
    destination.write('d\n');
    await sleep(60);
    expect(target.writes).toEqual(['a\nb\nc\n', 'd\n']);
  });

  it('writes at once past maxBytes, keeping the order with what follows', async () => {
    const target = new Recorder();
    const destination = new BatchedDestination(target, { maxBytes: 10, maxDelayMs: 20 });
    destination.write('12345\n');
    destination.write('67890\n');
    expect(target.writes).toEqual(['12345\n67890\n']);
    destination.write('x\n');
    await sleep(60);
    expect(target.writes).toEqual(['12345\n67890\n', 'x\n']);
  });

  it('flushSync writes what is gathered, then flushes the target synchronously', () => {
    const target = new Recorder();
    const destination = new BatchedDestination(target);
    destination.write('last\n');
    destination.flushSync();
    expect(target.writes).toEqual(['last\n']);
    expect(target.syncFlushes).toBe(1);
    destination.flushSync();
    expect(target.writes).toEqual(['last\n']);
  });

  it("answers pino's logger.flush(callback) once the gathered lines are handed over", async () => {
    const target = new Recorder();
    const logger = pino({ level: 'info' }, new BatchedDestination(target, { maxDelayMs: 60_000 }));
    logger.info('one');
    await new Promise<void>((resolve, reject) => logger.flush((error) => (error ? reject(error) : resolve())));
    expect(target.writes).toHaveLength(1);
    expect(JSON.parse(target.writes[0]) as { msg: string }).toMatchObject({ msg: 'one' });
  });

  it('never holds the process open: its timer is unref-ed', () => {
    const target = new Recorder();
    const destination = new BatchedDestination(target, { maxDelayMs: 60_000 });
    destination.write('a\n');
    const timer = (destination as unknown as { timer: NodeJS.Timeout }).timer;
    expect(timer.hasRef()).toBe(false);
    destination.flush();
  });

  it('carries pino lines whole: every line parses as JSON, in the order logged', async () => {
    const target = new Recorder();
    const logger = pino({ level: 'info' }, new BatchedDestination(target, { maxBytes: 4096, maxDelayMs: 10 }));
    for (let i = 0; i < 100; i++) logger.info({ i }, 'request');
    await sleep(40);
    expect(target.writes.length).toBeGreaterThan(1);
    const lines = target.writes
      .join('')
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as { i: number; msg: string });
    expect(lines.map((line) => line.i)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(lines.every((line) => line.msg === 'request')).toBe(true);
  });

  describe('on stdout through pino.destination({ sync: true }), in a child process', () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'batched-destination-'));
      const out = ts.transpileModule(readFileSync(join(__dirname, 'batched.destination.ts'), 'utf8'), {
        compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 },
      });
      writeFileSync(join(dir, 'batched.destination.js'), out.outputText);
      writeFileSync(
        join(dir, 'child.js'),
        `
const pino = require(${JSON.stringify(require.resolve('pino'))});
const { BatchedDestination } = require('./batched.destination.js');
const destination = new BatchedDestination(pino.destination({ dest: 1, sync: true }));
process.once('exit', () => destination.flushSync());
const logger = pino({ level: 'info' }, destination);
for (let i = 0; i < 2000; i++) logger.info({ i, pad: 'x'.repeat(100) }, 'request');
if (process.argv[2] === 'exit') process.exit(0);
if (process.argv[2] === 'throw') throw new Error('boom');
`,
      );
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    const linesOf = (mode: string): number[] => {
      let stdout: string;
      try {
        stdout = execFileSync(process.execPath, [join(dir, 'child.js'), mode], {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'ignore'],
          maxBuffer: 64 * 1024 * 1024,
        });
      } catch (error) {
        stdout = (error as { stdout: string }).stdout;
      }
      return stdout
        .trimEnd()
        .split('\n')
        .map((line) => (JSON.parse(line) as { i: number }).i);
    };

    it.each(['end', 'exit', 'throw'])('writes every line, in order, when the process ends (%s)', (mode) => {
      expect(linesOf(mode)).toEqual(Array.from({ length: 2000 }, (_, i) => i));
    });
  });
});
