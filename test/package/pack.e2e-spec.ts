/**
 * The library as users get it: built, packed with `npm pack`, installed from the tarball into a fresh project with
 * its peer dependencies, and booted there in a Nest app. Catches a dependency the package forgets to declare, a file
 * it forgets to ship (or ships by mistake), and an entry point that points at nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import jwt from 'jsonwebtoken';
import { createTestDatabase, itWith } from '../support/services';

const run = promisify(execFile);
const ROOT = join(__dirname, '..', '..');
const LIBRARY = join(ROOT, 'libs', 'policy');

/**
 * The environment for the npm commands run here. Under `npm test`, npm passes its own settings down as `npm_config_*`
 * (among them `npm_config_local_prefix`, the repository root): inherited, they would make `npm install` in the fresh
 * app install into the repository instead.
 */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key)));
  return { ...env, ...extra };
}

interface PackedFile {
  path: string;
}

/** The peers a user installs beside the library, at the ranges its package.json asks for, plus a driver and an adapter. */
function installList(): string[] {
  const manifest = JSON.parse(readFileSync(join(LIBRARY, 'package.json'), 'utf8')) as {
    peerDependencies: Record<string, string>;
    peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  };
  const optional = manifest.peerDependenciesMeta ?? {};
  const required = Object.entries(manifest.peerDependencies).filter(([name]) => !optional[name]?.optional);
  const root = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  return [
    ...required.map(([name, range]) => `${name}@${range}`),
    `pg@${manifest.peerDependencies.pg}`,
    `@nestjs/platform-express@${root.dependencies['@nestjs/platform-express']}`,
  ];
}

describe('the packed library', () => {
  let work: string;
  let tarball: string;
  let files: string[];

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'nest-agent-policy-pack-'));
    // The package as build:lib makes it, compiled into a staging copy so that the workspace's dist/ (which other suites
    // run) is never rewritten under them: package.json, bin/ and the generated schema beside a fresh dist/.
    const staging = join(work, 'package');
    await run(
      process.execPath,
      [
        require.resolve('typescript/bin/tsc'),
        '-p',
        join(LIBRARY, 'tsconfig.lib.json'),
        '--outDir',
        join(staging, 'dist'),
        '--tsBuildInfoFile',
        join(staging, 'dist', '.tsbuildinfo'),
      ],
      { cwd: ROOT, timeout: 180_000 },
    );
    for (const file of ['package.json', 'policy.schema.json', 'bin/nest-agent-policy.cjs']) {
      cpSync(join(LIBRARY, file), join(staging, file));
    }
    const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', work], {
      cwd: staging,
      env: cleanEnv(),
      timeout: 60_000,
    });
    const [packed] = JSON.parse(stdout) as Array<{ filename: string; files: PackedFile[] }>;
    tarball = join(work, packed.filename);
    files = packed.files.map((f) => f.path);
  }, 240_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('ships the compiled library, its typings, the CLI and the policy schema, and no tests, sources or source maps', () => {
    expect(files).toEqual(
      expect.arrayContaining([
        'package.json',
        'dist/index.js',
        'dist/index.d.ts',
        'bin/nest-agent-policy.cjs',
        'policy.schema.json',
        'dist/cli/main.js',
      ]),
    );
    expect(
      files.filter((f) => /\.(spec|e2e-spec)\.(ts|js|d\.ts)$|\.map$|\.tsbuildinfo$|(^|\/)src\/.*\.ts$/.test(f)),
    ).toEqual([]);
    // Everything under dist/ is JavaScript or its typings: nothing else leaks in from the build.
    expect(files.filter((f) => f.startsWith('dist/') && !/\.(js|d\.ts)$/.test(f))).toEqual([]);
  });

  describe('installed into a fresh app', () => {
    const it = itWith('postgres');
    let app: string;
    let database: { url: string; drop: () => Promise<void> } | undefined;

    beforeAll(async () => {
      app = join(work, 'app');
      rmSync(app, { recursive: true, force: true });
      const manifest = {
        name: 'packed-library-app',
        version: '0.0.0',
        private: true,
        // TypeORM 1.1 declares ioredis ^5 as an optional peer, the library ^6: the same override the README gives.
        overrides: { typeorm: { ioredis: '^6.0.0' } },
      };
      mkdirSync(app, { recursive: true });
      writeFileSync(join(app, 'package.json'), JSON.stringify(manifest, null, 2));
      copyFileSync(join(__dirname, 'boot-packed-app.cjs'), join(app, 'boot-packed-app.cjs'));
      // --prefer-offline: the local npm cache answers what it holds, the registry the rest.
      await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball, ...installList()], {
        cwd: app,
        env: cleanEnv(),
        timeout: 240_000,
      });
      database = await createTestDatabase('nap_pack');
    }, 300_000);

    afterAll(async () => {
      await database?.drop();
    });

    it('boots a Nest app importing PolicyModule from the installed tarball: public 200, protected 401 without a token, 200 with one', async () => {
      const secret = randomBytes(32).toString('hex');
      const token = jwt.sign({ sub: 'reader-1', roles: ['reader'] }, secret, { algorithm: 'HS256', expiresIn: '5m' });
      const { stdout } = await run('node', ['boot-packed-app.cjs'], {
        cwd: app,
        timeout: 60_000,
        env: cleanEnv({ DATABASE_URL: database!.url, JWT_SECRET: secret, READER_TOKEN: token, NODE_PATH: '' }),
      });
      const result = JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, unknown>;
      // The app's copy, not the workspace's.
      expect(result.resolved).toBe(join(app, 'node_modules', 'nest-agent-policy', 'dist', 'index.js'));
      expect(result.schemaTitle).toBe('nest-agent-policy policy document');
      expect(result.open).toEqual({ status: 200, body: { open: true } });
      expect(result.anonymous).toMatchObject({ status: 401, body: { code: 'unauthenticated' } });
      expect(result.reader).toEqual({ status: 200, body: { reports: [] } });
    }, 90_000);
  });
});
