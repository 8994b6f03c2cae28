import { accessSync, constants, lstatSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve, sep } from 'node:path';
import type { SandboxHostTools, SandboxMount } from './sandbox-command';

/** The only PATH the setup programs see. */
export const SANDBOX_SETUP_PATH = '/usr/sbin:/usr/bin:/sbin:/bin';

const REQUIRED_PROGRAMS = ['prlimit', 'unshare', 'sh', 'setpriv', 'mount', 'chroot', 'mkdir', 'ln', 'dirname'] as const;
const SYSTEM_DIRS = ['/usr', '/lib', '/lib64', '/lib32', '/libx32', '/bin', '/sbin'];

function findProgram(name: string): string | undefined {
  for (const dir of SANDBOX_SETUP_PATH.split(':')) {
    const candidate = `${dir}/${name}`;
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // next directory
    }
  }
  return undefined;
}

/** What this host lacks to confine a process, empty when nothing: platform, root, programs, Node's permission model. */
export function missingHostFeatures(): string[] {
  const missing: string[] = [];
  if (process.platform !== 'linux') missing.push(`Linux (this is ${process.platform})`);
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    missing.push('root (creating mount and network namespaces needs CAP_SYS_ADMIN)');
  }
  for (const name of REQUIRED_PROGRAMS) if (!findProgram(name)) missing.push(`the ${name} program`);
  if (!permissionFlag()) missing.push("Node's permission model (Node ≥ 20)");
  return missing;
}

/** Absolute paths of the programs `buildSandboxCommand` runs; call after `missingHostFeatures()` came back empty. */
export function hostTools(): SandboxHostTools {
  return {
    prlimit: findProgram('prlimit')!,
    unshare: findProgram('unshare')!,
    sh: findProgram('sh')!,
    setpriv: findProgram('setpriv')!,
  };
}

/** The flag turning Node's permission model on, by Node version; undefined when this Node has none. */
export function permissionFlag(): string | undefined {
  const flags = process.allowedNodeEnvironmentFlags;
  if (flags.has('--permission')) return '--permission';
  if (flags.has('--experimental-permission')) return '--experimental-permission';
  return undefined;
}

function covers(dir: string, path: string): boolean {
  return path === dir || path.startsWith(dir.endsWith(sep) ? dir : dir + sep);
}

/** The read-only mounts a Node binary needs to start inside an otherwise empty root: `/usr`, the lib links, its prefix. */
export function systemMounts(nodePath: string): SandboxMount[] {
  const mounts: SandboxMount[] = [];
  for (const path of SYSTEM_DIRS) {
    let stat;
    try {
      stat = lstatSync(path);
    } catch {
      continue;
    }
    if (stat.isSymbolicLink()) mounts.push({ kind: 'link', path, target: readlinkSync(path) });
    else if (stat.isDirectory()) mounts.push({ kind: 'dir', path });
  }
  const dirs = mounts.filter((m) => m.kind === 'dir').map((m) => m.path);
  if (!dirs.some((dir) => covers(dir, nodePath))) mounts.push({ kind: 'dir', path: dirname(dirname(nodePath)) });
  return mounts;
}

/** The real path of the Node binary (a `/usr/bin/node` link may point outside the mounted directories). */
export function realNodePath(): string {
  return realpathSync(process.execPath);
}

/**
 * Checks `readPaths` (absolute, existing) and plans their mounts: one per path not already visible under a system
 * directory or another read path. Throws a plain Error naming the bad path.
 */
export function planReadMounts(
  readPaths: string[],
  system: SandboxMount[],
): { paths: string[]; mounts: SandboxMount[] } {
  const paths: string[] = [];
  for (const raw of readPaths) {
    if (typeof raw !== 'string' || !isAbsolute(raw))
      throw new Error(`readPaths entry ${JSON.stringify(raw)} is not an absolute path`);
    const path = resolve(raw);
    if (path === '/') throw new Error('readPaths may not contain the root directory');
    if (!paths.includes(path)) paths.push(path);
  }
  const systemDirs = system.filter((m) => m.kind === 'dir').map((m) => m.path);
  const mounts: SandboxMount[] = [];
  for (const path of paths) {
    let stat;
    try {
      stat = statSync(path);
    } catch {
      throw new Error(`readPaths entry ${path} does not exist`);
    }
    const coveredBy = [...systemDirs, ...paths.filter((other) => other !== path)];
    if (coveredBy.some((dir) => covers(dir, path))) continue;
    mounts.push({ kind: stat.isDirectory() ? 'dir' : 'file', path });
  }
  return { paths, mounts };
}

/**
 * The environment a sandbox process starts with: a fixed PATH for the setup programs, and the allowlisted variables
 * of `source` encoded in SANDBOX_ENV, which the runner decodes into `process.env` after clearing everything else.
 */
export function sandboxEnvironment(names: string[], source: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const allowed: Record<string, string> = {};
  for (const name of names) {
    const value = source[name];
    if (value !== undefined) allowed[name] = value;
  }
  return { PATH: SANDBOX_SETUP_PATH, SANDBOX_ENV: Buffer.from(JSON.stringify(allowed)).toString('base64') };
}
