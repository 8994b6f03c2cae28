import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { appRoot } from '../config/agent-api.config';

/** A file the console serves, read once at boot. */
export interface ConsoleAsset {
  readonly body: Buffer;
  readonly type: string;
}

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
};

/**
 * The console's files: its own (apps/agent-api/console, copied next to the built app) and the chart library from
 * node_modules. A fixed list, loaded into memory at boot: a request names one of these or gets a 404 — no path
 * from the request ever reaches the file system.
 */
export function loadConsoleAssets(): ReadonlyMap<string, ConsoleAsset> {
  const own = join(appRoot(), 'console');
  const files: Array<[string, string]> = [
    ['index.html', join(own, 'index.html')],
    ['console.js', join(own, 'console.js')],
    ['console.css', join(own, 'console.css')],
    ['chart.umd.min.js', join(dirname(require.resolve('chart.js')), 'chart.umd.min.js')],
  ];
  return new Map(
    files.map(([name, path]) => [
      name,
      { body: readFileSync(path), type: TYPES[name.slice(name.lastIndexOf('.') + 1)] },
    ]),
  );
}
