import { SANDBOX_RUNNER_SOURCE } from './sandbox-runner.script';

/** A path made visible (read-only) inside a sandbox's private root, at the same absolute path. */
export type SandboxMount =
  | { kind: 'dir' | 'file'; path: string }
  /** A symbolic link recreated as is (merged-/usr systems: `/lib -> usr/lib`). */
  | { kind: 'link'; path: string; target: string };

/** Absolute paths of the host programs that set a sandbox up. */
export interface SandboxHostTools {
  prlimit: string;
  unshare: string;
  sh: string;
  /** Run inside the new root: must lie under a system mount (it does, under /usr or /bin). */
  setpriv: string;
}

export interface SandboxCommandInput {
  tools: SandboxHostTools;
  /** Absolute path of the Node binary run inside the sandbox (mounted by `systemMounts`). */
  nodePath: string;
  /** `--permission` (Node ≥ 22.13) or `--experimental-permission` (Node 20). */
  permissionFlag: string;
  /** An empty host directory; each sandbox mounts its own private tmpfs root over it in its own mount namespace. */
  rootDir: string;
  /** What the Node binary needs to start (`/usr`, the `/lib` links, its install prefix), mounted read-only. */
  systemMounts: SandboxMount[];
  /** The task's `readPaths`, absolute: granted to Node's permission model. */
  readPaths: string[];
  /** The mounts making `readPaths` visible read-only (none for a path already under another mount). */
  readMounts: SandboxMount[];
  memoryMb: number;
  /** Backstop on the process's CPU seconds (RLIMIT_CPU), for when the server is gone and cannot kill it. */
  cpuSeconds: number;
  /** The program Node runs (default `SANDBOX_RUNNER_SOURCE`); tests hand the task more to prove the outer layers. */
  runnerSource?: string;
}

export interface SandboxCommand {
  file: string;
  args: string[];
}

/** Node's own baseline of private writable memory (~48 MB measured on Node 20) on top of the task's cap. */
export const NODE_BASELINE_MB = 64;

/**
 * Runs as PID 1 of the new namespaces: builds a read-only root holding only the given mounts, then starts Node in it
 * (not exec'd, so that Node is not the namespace's init, which the kernel shields from signals sent inside).
 * Arguments: root, then (kind path target)… triples, then `--`, then Node's argv.
 */
export const SANDBOX_SETUP_SCRIPT = String.raw`set -eu
root=$1; shift
mount -t tmpfs -o size=64k,mode=755,nosuid,nodev sandbox "$root"
while [ "$1" != "--" ]; do
  kind=$1; path=$2; target=$3; shift 3
  case "$kind" in
    link) mkdir -p "$root$(dirname "$path")"; ln -s "$target" "$root$path" ;;
    dir) mkdir -p "$root$path" ;;
    file) mkdir -p "$root$(dirname "$path")"; : > "$root$path" ;;
  esac
  if [ "$kind" != link ]; then
    mount --bind "$path" "$root$path"
    mount -o remount,bind,ro,nosuid,nodev "$root$path"
  fi
done
shift
mount -o remount,ro "$root"
status=0
chroot "$root" "$@" || status=$?
exit "$status"
`;

/**
 * The command line of one sandbox process:
 * `prlimit` (memory, CPU backstop, no core dumps, no file growth) → `unshare` (new mount, network, PID, IPC and UTS
 * namespaces; killed with its parent) → the setup script (private read-only root, chroot) → `setpriv` (every
 * capability dropped for good) → `node` under the
 * permission model (reads only `readPaths`; no writes, child processes, workers or addons) with its heap capped.
 */
export function buildSandboxCommand(input: SandboxCommandInput): SandboxCommand {
  const mounts = [...input.systemMounts, ...input.readMounts].flatMap((m) =>
    m.kind === 'link' ? ['link', m.path, m.target] : [m.kind, m.path, '-'],
  );
  const dataBytes = (input.memoryMb + NODE_BASELINE_MB) * 1024 * 1024;
  // Node keeps uid 0 (so root-owned readPaths stay readable) but holds no capability and can never regain one.
  const dropPrivileges = [
    input.tools.setpriv,
    '--bounding-set=-all',
    '--inh-caps=-all',
    '--ambient-caps=-all',
    '--no-new-privs',
    '--securebits=+noroot,+noroot_locked,+no_setuid_fixup,+no_setuid_fixup_locked,+keep_caps_locked',
    '--',
  ];
  const nodeArgs = [
    ...dropPrivileges,
    input.nodePath,
    input.permissionFlag,
    ...input.readPaths.map((p) => `--allow-fs-read=${p}`),
    `--max-old-space-size=${input.memoryMb}`,
    '--no-warnings',
    '-e',
    input.runnerSource ?? SANDBOX_RUNNER_SOURCE,
  ];
  return {
    file: input.tools.prlimit,
    args: [
      `--data=${dataBytes}`,
      `--cpu=${input.cpuSeconds}`,
      '--core=0',
      '--fsize=0',
      '--',
      input.tools.unshare,
      '--mount',
      '--net',
      '--pid',
      '--ipc',
      '--uts',
      '--fork',
      '--kill-child',
      '--propagation',
      'private',
      '--',
      input.tools.sh,
      '-c',
      SANDBOX_SETUP_SCRIPT,
      'sandbox-setup',
      input.rootDir,
      ...mounts,
      '--',
      ...nodeArgs,
    ],
  };
}
