import { parseArgs } from 'node:util';
import { CliUsageError, EXIT } from './cli.errors';
import type { CliOutput } from './cli.output';
import { loadCompiledPolicy } from './check.command';
import { decideOffline, fixturePrincipal } from './policy-decision';

export const EXPLAIN_HELP = `Usage: nest-agent-policy explain <policy.yaml> --operation <op> --roles <r1,r2> [--scope "<s1 s2>"]
                               [--require <scope>]... [--tenant <id>] [--json]

Shows the decision for one principal and operation, with each evaluator's outcome and reason.
Exit codes: 0 ALLOW; 1 DENY or REQUIRE_APPROVAL; 2 bad input.`;

export async function runExplain(args: readonly string[], io: CliOutput): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    options: {
      operation: { type: 'string' },
      roles: { type: 'string' },
      scope: { type: 'string' },
      require: { type: 'string', multiple: true },
      tenant: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  if (positionals.length !== 1) throw new CliUsageError('explain takes one argument: the policy file');
  if (!values.operation) throw new CliUsageError('explain needs --operation');
  if (values.roles === undefined) throw new CliUsageError('explain needs --roles (comma-separated; may be empty)');
  let compiled;
  try {
    compiled = loadCompiledPolicy(positionals[0]);
  } catch (error) {
    if (error instanceof CliUsageError) throw error;
    throw new CliUsageError(`policy ${positionals[0]}: ${(error as Error).message}`);
  }
  const principal = fixturePrincipal({
    roles: values.roles
      .split(',')
      .map((r) => r.trim())
      .filter(Boolean),
    scopes: values.scope ?? '',
    ...(values.tenant ? { tenant: values.tenant } : {}),
  });
  const decision = await decideOffline(compiled, principal, values.operation, values.require ?? []);
  if (values.json) {
    io.out(JSON.stringify({ operation: values.operation, ...decision }, null, 2));
  } else {
    io.out(`${decision.outcome}${decision.outcome === 'ALLOW' ? '' : ` (${decision.code})`} for ${values.operation}`);
    for (const reason of decision.reasons)
      io.out(`  ${reason.policy.padEnd(14)} ${reason.outcome.padEnd(16)} ${reason.reason}`);
    if (decision.outcome === 'ALLOW') io.out(`  record scope: ${JSON.stringify(decision.recordScope)}`);
  }
  return decision.outcome === 'ALLOW' ? EXIT.ok : EXIT.failed;
}
