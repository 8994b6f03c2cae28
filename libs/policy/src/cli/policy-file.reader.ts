import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { CliUsageError } from './cli.errors';

/**
 * Reads a JSON or YAML file (by extension; `.json` is JSON, anything else YAML, which also reads JSON).
 * @throws CliUsageError when the file cannot be read or parsed, naming the file.
 */
export function readDataFile(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new CliUsageError(`${what} ${path}: cannot read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  try {
    return path.endsWith('.json') ? JSON.parse(text) : parseYaml(text, { maxAliasCount: 100 });
  } catch (error) {
    throw new CliUsageError(
      `${what} ${path}: not valid ${path.endsWith('.json') ? 'JSON' : 'YAML'} (${(error as Error).message.split('\n')[0]})`,
    );
  }
}
