import { AUDIT_VERIFY_HELP, runAuditVerify } from './audit-verify.command';
import { CHECK_HELP, runCheck } from './check.command';
import { CliUsageError, EXIT } from './cli.errors';
import { processOutput, type CliOutput } from './cli.output';
import { EXPLAIN_HELP, runExplain } from './explain.command';
import { runTest, TEST_HELP } from './test.command';
import { runToken, TOKEN_HELP } from './token.command';

export const CLI_HELP = `Usage: nest-agent-policy <command> [options]

Commands:
  check <policy>                     validate a policy file as the boot does
  test <policy> <fixtures>           run expected decisions against a policy file
  explain <policy> --operation …     show one decision with each evaluator's reason
  token --sub …                      mint a development JWT
  audit verify --database-url …      verify the audit log's hash chains

Run "nest-agent-policy <command> --help" for a command's options and exit codes.`;

type Command = { help: string; run: (args: readonly string[], io: CliOutput) => number | Promise<number> };

const COMMANDS: Record<string, Command> = {
  check: { help: CHECK_HELP, run: runCheck },
  test: { help: TEST_HELP, run: runTest },
  explain: { help: EXPLAIN_HELP, run: runExplain },
  token: { help: TOKEN_HELP, run: (args, io) => runToken(args, io) },
  'audit verify': { help: AUDIT_VERIFY_HELP, run: (args, io) => runAuditVerify(args, io) },
};

/**
 * Runs the command line `argv` (without node and the script) and resolves with the exit code; what it prints goes
 * to `io`. Exit codes: 0 success, 1 the check found problems, 2 bad input.
 */
export async function runCli(argv: readonly string[], io: CliOutput = processOutput): Promise<number> {
  const [first, second] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    io.out(CLI_HELP);
    return first === undefined ? EXIT.badInput : EXIT.ok;
  }
  const name = first === 'audit' && second === 'verify' ? 'audit verify' : first;
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) {
    io.err(first === 'audit' ? 'audit: the only subcommand is "verify"' : `unknown command "${first}"`);
    io.err(CLI_HELP);
    return EXIT.badInput;
  }
  const rest = argv.slice(name === 'audit verify' ? 2 : 1);
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(command.help);
    return EXIT.ok;
  }
  try {
    return await command.run(rest, io);
  } catch (error) {
    if (error instanceof CliUsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.err(`${name}: ${(error as Error).message}`);
      io.err(`Run "nest-agent-policy ${name} --help" for usage.`);
      return EXIT.badInput;
    }
    io.err(`${name}: ${(error as Error).message ?? String(error)}`);
    return EXIT.badInput;
  }
}
