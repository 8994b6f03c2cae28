import { schemaProblems } from '../schema/policy-schema.validator';
import { CliUsageError, EXIT } from './cli.errors';
import type { CliOutput } from './cli.output';
import { loadCompiledPolicy } from './check.command';
import { decideOffline, fixturePrincipal } from './policy-decision';
import { PolicyFixturesFileSchema, type PolicyFixture } from './policy-fixture.schema';
import { readDataFile } from './policy-file.reader';

export const TEST_HELP = `Usage: nest-agent-policy test <policy.yaml> <fixtures.yaml>

Runs each fixture through the policy's decision (roles → scopes → approvals, as the request path decides) and
compares the outcome (and code, when given) with the one expected. A fixture:
  - name: customers cannot delete agents
    principal: { roles: [customer], scopes: "sessions:write", tenant: t1 }
    operation: agent.delete
    scopes: [agents:write]          # the scopes the route requires
    expect: DENY                    # ALLOW | DENY | REQUIRE_APPROVAL
    code: forbidden                 # optional
Exit codes: 0 every fixture passes; 1 some fail (each listed); 2 bad input (unreadable or invalid policy or fixtures).`;

function loadFixtures(path: string): PolicyFixture[] {
  const read = readDataFile(path, 'fixtures');
  const data = Array.isArray(read) ? { fixtures: read } : read;
  const problems = schemaProblems(PolicyFixturesFileSchema, data, 'fixtures file');
  if (problems.length > 0) throw new CliUsageError(`fixtures ${path}: ${problems.join('; ')}`);
  return (data as { fixtures: PolicyFixture[] }).fixtures;
}

export async function runTest(args: readonly string[], io: CliOutput): Promise<number> {
  if (args.length !== 2) throw new CliUsageError('test takes two arguments: the policy file and the fixtures file');
  const [policyPath, fixturesPath] = args as [string, string];
  let compiled;
  try {
    compiled = loadCompiledPolicy(policyPath);
  } catch (error) {
    if (error instanceof CliUsageError) throw error;
    throw new CliUsageError(`policy ${policyPath}: ${(error as Error).message}`);
  }
  const fixtures = loadFixtures(fixturesPath);
  let failed = 0;
  for (const [index, fixture] of fixtures.entries()) {
    const label = fixture.name ?? `fixtures[${index}]`;
    const decision = await decideOffline(
      compiled,
      fixturePrincipal(fixture.principal),
      fixture.operation,
      fixture.scopes ?? [],
    );
    const code = decision.outcome === 'ALLOW' ? undefined : decision.code;
    const pass = decision.outcome === fixture.expect && (fixture.code === undefined || fixture.code === code);
    if (pass) {
      io.out(`PASS ${label}`);
      continue;
    }
    failed += 1;
    const why = decision.reasons
      .filter((r) => r.outcome !== 'ABSTAIN')
      .map((r) => `${r.policy}: ${r.reason}`)
      .join('; ');
    io.out(
      `FAIL ${label}: expected ${fixture.expect}${fixture.code ? ` (${fixture.code})` : ''}, got ${decision.outcome}${code ? ` (${code})` : ''} — ${why}`,
    );
  }
  io.out(`${fixtures.length - failed} passed, ${failed} failed, ${fixtures.length} total`);
  return failed === 0 ? EXIT.ok : EXIT.failed;
}
