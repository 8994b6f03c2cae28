/**
 * The `nest-agent-policy` command as a user runs it: the bin installed in node_modules/.bin, on the built library.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import jwt from 'jsonwebtoken';
import { DataSource } from 'typeorm';
import { AUDIT_ENTITIES, AUDIT_MIGRATIONS, AuditService, AuditWriter } from 'nest-agent-policy';
import { createTestDatabase, itWith } from '../support/services';

const ROOT = resolve(__dirname, '../..');
const BIN = join(ROOT, 'node_modules/.bin/nest-agent-policy');
const POLICY = join(ROOT, 'apps/agent-api/policy/agent-api.policy.yaml');
const FIXTURES = join(ROOT, 'apps/agent-api/policy/agent-api.policy.fixtures.yaml');
const SECRET = 'cli-test-secret-0123456789abcdef-0123456789';

function cli(args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(BIN, args, {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', ...env },
    timeout: 60_000,
  });
  return { code: result.status, out: result.stdout, err: result.stderr };
}

describe('nest-agent-policy CLI', () => {
  let dir: string;
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'nap-cli-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('prints its commands with --help and exits 2 without a command', () => {
    const help = cli(['--help']);
    expect(help.code).toBe(0);
    for (const command of ['check', 'test', 'explain', 'token', 'audit verify']) expect(help.out).toContain(command);
    expect(cli([]).code).toBe(2);
    const unknown = cli(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('unknown command "frobnicate"');
  });

  it.each(['check', 'test', 'explain', 'token', 'audit verify'])(
    'documents "%s" and its exit codes with --help',
    (command) => {
      const res = cli([...command.split(' '), '--help']);
      expect(res.code).toBe(0);
      expect(res.out).toContain(`Usage: nest-agent-policy ${command}`);
      expect(res.out).toContain('Exit codes');
    },
  );

  describe('check', () => {
    it('accepts the shipped policy', () => {
      const res = cli(['check', POLICY]);
      expect(res).toMatchObject({ code: 0 });
      expect(res.out).toContain('valid');
    });

    it.each([
      [
        'rateLimits:\n  defualt: { limit: 1, ttl: 60 }\nroles: { admin: { operations: ["*"] } }\n',
        'rateLimits.defualt: unknown key (did you mean "default"?)',
      ],
      [
        'roles:\n  admin: { operations: ["*"], inherit: [] }\n',
        'roles.admin.inherit: unknown key (did you mean "inherits"?)',
      ],
      ['roles:\n  op: { operations: ["agent.*"], inherits: [ghost] }\n', 'roles.op.inherits[0]: unknown role "ghost"'],
      [
        'roles: { admin: { operations: ["*"] } }\nrateLimits: { default: { limit: 0, ttl: 60 } }\n',
        'rateLimits.default.limit',
      ],
    ])('exits 1 naming the key of a mistake (%#)', (text, message) => {
      const path = file(`bad-${Math.random().toString(36).slice(2)}.yaml`, text);
      const res = cli(['check', path]);
      expect(res.code).toBe(1);
      expect(res.err).toContain(message);
    });

    it('exits 2 for a file it cannot read or parse, or a wrong number of arguments', () => {
      expect(cli(['check', join(dir, 'missing.yaml')]).code).toBe(2);
      expect(cli(['check', file('broken.json', '{"roles": ')]).code).toBe(2);
      expect(cli(['check']).code).toBe(2);
      expect(cli(['check', POLICY, POLICY]).code).toBe(2);
    });
  });

  describe('test', () => {
    it('passes every fixture shipped with the policy', () => {
      const res = cli(['test', POLICY, FIXTURES]);
      expect(res.err).toBe('');
      expect(res.code).toBe(0);
      expect(res.out).toMatch(/(\d+) passed, 0 failed, \1 total/);
    });

    it("passes the README's fixtures example against the shipped policy", () => {
      const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
      const blocks = [...readme.matchAll(/```yaml\n(fixtures:[\s\S]*?)```/g)].map((m) => m[1]);
      expect(blocks.length).toBeGreaterThan(0);
      for (const block of blocks)
        expect(cli(['test', POLICY, file('readme-fixtures.yaml', block)])).toMatchObject({ code: 0 });
    });

    it('exits 1 and lists each failing fixture with what it got and why', () => {
      const fixtures = file(
        'failing.yaml',
        [
          '- name: customers may delete agents',
          '  principal: { roles: [customer], scopes: "agents:write" }',
          '  operation: agent.delete',
          '  expect: ALLOW',
          '- name: operators read agents',
          '  principal: { roles: [operator], scopes: "agents:read" }',
          '  operation: agent.read',
          '  scopes: [agents:read]',
          '  expect: ALLOW',
          '- name: wrong code',
          '  principal: { roles: [operator], scopes: "agents:read" }',
          '  operation: agent.update',
          '  scopes: [agents:write]',
          '  expect: DENY',
          '  code: forbidden',
        ].join('\n'),
      );
      const res = cli(['test', POLICY, fixtures]);
      expect(res.code).toBe(1);
      expect(res.out).toContain('FAIL customers may delete agents: expected ALLOW, got DENY (forbidden)');
      expect(res.out).toContain('PASS operators read agents');
      expect(res.out).toContain('FAIL wrong code: expected DENY (forbidden), got DENY (insufficient_scope)');
      expect(res.out).toContain('1 passed, 2 failed, 3 total');
    });

    it.each([
      [
        'an unknown key',
        '- principal: { roles: [admin] }\n  operation: agent.read\n  expect: ALLOW\n  expected: ALLOW\n',
        'fixtures[0].expected: unknown key (did you mean "expect"?)',
      ],
      ['a bad outcome', '- principal: { roles: [admin] }\n  operation: agent.read\n  expect: MAYBE\n', 'expect'],
      ['no fixtures', 'fixtures: []\n', 'fixtures'],
      ['not YAML', '- [unclosed\n', 'not valid YAML'],
    ])('exits 2 for fixtures with %s', (_name, text, message) => {
      const res = cli(['test', POLICY, file(`fx-${Math.random().toString(36).slice(2)}.yaml`, text)]);
      expect(res.code).toBe(2);
      expect(res.err).toContain(message);
    });

    it('exits 2 when the policy itself is invalid', () => {
      const res = cli(['test', file('invalid-policy.yaml', 'rolez: {}\n'), FIXTURES]);
      expect(res.code).toBe(2);
      expect(res.err).toContain('rolez');
    });
  });

  describe('explain', () => {
    it("prints each evaluator's outcome and reason", () => {
      const res = cli([
        'explain',
        POLICY,
        '--operation',
        'agent.update',
        '--roles',
        'operator',
        '--scope',
        'agents:read',
        '--require',
        'agents:write',
      ]);
      expect(res.code).toBe(1);
      expect(res.out).toContain('DENY (insufficient_scope) for agent.update');
      expect(res.out).toMatch(/roles\s+ALLOW\s+role operator allows agent.update/);
      expect(res.out).toMatch(/scopes\s+DENY\s+missing scope agents:write/);
    });

    it('answers JSON with --json, exit 0 on ALLOW, with the record scope of an own role', () => {
      const res = cli([
        'explain',
        POLICY,
        '--operation',
        'session.read',
        '--roles',
        'customer',
        '--scope',
        'sessions:read',
        '--require',
        'sessions:read',
        '--json',
      ]);
      expect(res.code).toBe(0);
      const body = JSON.parse(res.out);
      expect(body).toMatchObject({ operation: 'session.read', outcome: 'ALLOW' });
      expect(body.recordScope.ownerId).toBeDefined();
      expect(body.reasons.map((r: { policy: string }) => r.policy)).toEqual(['roles', 'scopes', 'approvals']);
    });

    it('exits 2 without --operation', () => {
      expect(cli(['explain', POLICY, '--roles', 'admin']).code).toBe(2);
    });
  });

  describe('token', () => {
    it('mints a JWT with the claims the library reads, verifiable with the secret', () => {
      const res = cli(
        [
          'token',
          '--sub',
          'alice',
          '--roles',
          'operator,auditor',
          '--scope',
          'agents:write  audit:read',
          '--tenant',
          't1',
          '--ttl',
          '600',
        ],
        {
          JWT_SECRET: SECRET,
        },
      );
      expect(res.code).toBe(0);
      const claims = jwt.verify(res.out.trim(), SECRET, { algorithms: ['HS256'] }) as jwt.JwtPayload;
      expect(claims).toMatchObject({
        sub: 'alice',
        roles: ['operator', 'auditor'],
        scope: 'agents:write audit:read',
        tenant_id: 't1',
      });
      expect(claims.exp! - claims.iat!).toBe(600);
      expect(typeof claims.jti).toBe('string');
    });

    it.each([
      [['--sub', 'a', '--secret', 'short'], 'at least 32 bytes'],
      [['--roles', 'admin', '--secret', SECRET], '--sub'],
      [['--sub', 'a', '--secret', SECRET, '--ttl', '-5'], '--ttl'],
      [['--sub', 'a'], 'JWT_SECRET'],
      [['--sub', 'a', '--secret', SECRET, '--bogus'], 'bogus'],
    ])('exits 2 for bad input (%#)', (args, message) => {
      const res = cli(['token', ...args]);
      expect(res.code).toBe(2);
      expect(res.err).toContain(message);
      expect(res.out).toBe('');
    });

    it('refuses to mint in production', () => {
      const res = cli(['token', '--sub', 'a', '--secret', SECRET], { NODE_ENV: 'production' });
      expect(res.code).toBe(2);
      expect(res.err).toContain('production');
    });
  });
});

async function writeAuditLog(source: DataSource, events: number): Promise<void> {
  const writer = new AuditWriter(source, { flushIntervalMs: 5 });
  const audit = new AuditService(writer, source);
  for (let i = 0; i < events; i++) {
    await audit.record({
      type: 'access.denied',
      outcome: 'DENY',
      principalId: `p${i}`,
      operation: 'agent.read',
      reasons: [`#${i}`],
    });
  }
  await writer.close();
}

describe.each(['sqlite', 'postgres'] as const)('nest-agent-policy audit verify (%s)', (kind) => {
  const it = kind === 'postgres' ? itWith('postgres') : itWith();
  let url: string;
  let source: DataSource;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    if (kind === 'sqlite') {
      const dir = mkdtempSync(join(tmpdir(), 'nap-cli-audit-'));
      url = `sqlite:${join(dir, 'audit.sqlite')}`;
      source = new DataSource({
        type: 'better-sqlite3',
        database: join(dir, 'audit.sqlite'),
        entities: AUDIT_ENTITIES,
        migrations: AUDIT_MIGRATIONS,
      });
      cleanup = async () => rmSync(dir, { recursive: true, force: true });
    } else {
      const db = await createTestDatabase('nap_cli');
      url = db.url;
      source = new DataSource({ type: 'postgres', url, entities: AUDIT_ENTITIES, migrations: AUDIT_MIGRATIONS });
      cleanup = db.drop;
    }
    await source.initialize();
    await source.runMigrations();
    await writeAuditLog(source, 40);
  }, 60_000);
  afterAll(async () => {
    if (source?.isInitialized) await source.destroy();
    await cleanup?.();
  });

  it('exits 0 for an untouched log and 1 naming the edited event', async () => {
    const ok = cli(['audit', 'verify', '--database-url', url, '--json']);
    expect(ok.err).toBe('');
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.out)).toEqual({ valid: true, checked: 40, firstBrokenId: null });

    const [victim] = await source.query<Array<{ id: string }>>(
      `SELECT id FROM policy_audit_events ORDER BY seq LIMIT 1 OFFSET 17`,
    );
    await source.query(`UPDATE policy_audit_events SET reasons = '["rewritten"]' WHERE id = '${victim.id}'`);
    const broken = cli(['audit', 'verify', '--database-url', url]);
    expect(broken.code).toBe(1);
    expect(broken.out).toContain(`first broken event ${victim.id}`);
  });

  it('reads DATABASE_URL when no flag is given', () => {
    const res = cli(['audit', 'verify', '--json'], { DATABASE_URL: url });
    expect([0, 1]).toContain(res.code);
    expect(JSON.parse(res.out).checked).toBeGreaterThan(0);
  });
});

describe('nest-agent-policy audit verify, bad input', () => {
  it('exits 2 for an unreachable database without echoing its password', () => {
    const res = cli(['audit', 'verify', '--database-url', 'postgres://auditor:s3cr3t-pw@127.0.0.1:1/none']);
    expect(res.code).toBe(2);
    expect(res.err + res.out).not.toContain('s3cr3t-pw');
  });

  it('exits 2 for a URL of another kind, a missing SQLite file, or no URL at all', () => {
    expect(cli(['audit', 'verify', '--database-url', 'mysql://x']).code).toBe(2);
    expect(cli(['audit', 'verify', '--database-url', 'sqlite:/nonexistent/dir/a.sqlite']).code).toBe(2);
    expect(cli(['audit', 'verify']).code).toBe(2);
    expect(cli(['audit']).code).toBe(2);
  });
});
