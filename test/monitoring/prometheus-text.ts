/** Reading Prometheus text exposition in tests, and `promtool check metrics` when it is installed. */
import { spawnSync } from 'node:child_process';

/** The value of the sample `name` whose labels include `labels` (0 when absent). */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  let found = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || !line.startsWith(name)) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const got: Record<string, string> = {};
    for (const pair of (match[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      got[pair[1]] = pair[2];
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) {
      total += Number(match[4]);
      found = true;
    }
  }
  return found ? total : 0;
}

/** Whether promtool (Debian's `prometheus` package) is installed; CI installs it. */
export function promtoolInstalled(): boolean {
  return !spawnSync('promtool', ['--version'], { encoding: 'utf8' }).error;
}

/** Runs `promtool check metrics` on the text (define the test with `itIf(promtoolInstalled(), 'promtool')`). */
export function promtoolCheck(text: string): { status: number | null; output: string } {
  const run = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 30_000 });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}
