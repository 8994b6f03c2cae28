import { compilePolicy, type CompiledPolicy } from '../authorization/compiled-policy';
import { CliUsageError, EXIT } from './cli.errors';
import type { CliOutput } from './cli.output';
import { readDataFile } from './policy-file.reader';
import type { PolicyDocument } from '../policy-module-options.interface';

export const CHECK_HELP = `Usage: nest-agent-policy check <policy.yaml|policy.json>

Validates a policy file exactly as PolicyModule does at boot: every key known at every depth, every value of
its type, roles, operations, scopes, limits, budgets and prices consistent.
Exit codes: 0 valid; 1 invalid (each problem printed with its key); 2 the file cannot be read or parsed.`;

/** A policy file compiled as at boot. @throws Error naming the key, or CliUsageError when unreadable. */
export function loadCompiledPolicy(path: string): CompiledPolicy {
  const document = readDataFile(path, 'policy') as PolicyDocument;
  return compilePolicy(document);
}

export function runCheck(args: readonly string[], io: CliOutput): number {
  if (args.length !== 1) throw new CliUsageError('check takes one argument: the policy file');
  const [path] = args as [string];
  try {
    const compiled = loadCompiledPolicy(path);
    io.out(`${path}: valid (${compiled.roles.size} roles, ${compiled.operations.length} operations)`);
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CliUsageError) throw error;
    for (const problem of (error as Error).message.split('; ')) io.err(`${path}: ${problem}`);
    return EXIT.failed;
  }
}
