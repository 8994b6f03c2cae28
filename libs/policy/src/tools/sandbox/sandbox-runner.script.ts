/**
 * The program each sandbox process runs (`node -e`, so it needs no file read permission). It applies the
 * allowlisted environment, reports a self-check, then waits for ONE task on stdin, evaluates the task's function in
 * a fresh `vm` context (made at start, used by this one task), writes one result line on stdout and exits: a
 * sandbox process never serves a second task, so nothing a task leaves behind reaches another caller.
 *
 * Protocol (one JSON object per line on stdout):
 *   {"ready":true,"check":{"permission":bool,"interfaces":[...],"ppid":n,"capabilities":bool}}
 *   {"ok":true,"value":<json>} | {"ok":true} | {"ok":false,"error":{"name","message","memory"},"output"?:true}
 *
 * Kept as plain JavaScript text: it runs in a process that cannot read this library's files.
 */
export const SANDBOX_RUNNER_SOURCE = String.raw`'use strict';
const vm = require('node:vm');
const os = require('node:os');
const allowed = JSON.parse(Buffer.from(process.env.SANDBOX_ENV || 'e30=', 'base64').toString('utf8'));
for (const name of Object.keys(process.env)) delete process.env[name];
Object.assign(process.env, allowed);

const write = (text, then) => process.stdout.write(text + '\n', then);
let finished = false;
function finish(text) {
  if (finished) return;
  finished = true;
  write(text, () => process.exit(0));
}
function failure(err, extra) {
  let name = 'Error';
  let message = 'task failed';
  try {
    name = String((err && err.name) || 'Error');
    message = String(err && typeof err === 'object' && 'message' in err ? err.message : err);
  } catch (_) {}
  const memory = /allocation failed|out of memory|invalid array buffer length/i.test(message) && name === 'RangeError';
  finish(JSON.stringify(Object.assign({ ok: false, error: { name: name.slice(0, 100), message: message.slice(0, 1000), memory } }, extra)));
}
process.on('uncaughtException', (err) => failure(err));
process.on('unhandledRejection', (err) => failure(err));

// The task's context is made before the task arrives, so that a warm process answers without paying for it.
const context = vm.createContext(Object.create(null), { name: 'sandboxed tool', codeGeneration: { strings: true, wasm: true } });
const parseInContext = vm.runInContext('JSON.parse', context);
// Runs the compile and call paths once (leaving nothing in the context) so that the task does not pay their first use.
vm.runInContext('(function () { return 0; })', context, { filename: 'warmup.js' })(parseInContext('{"a":[1]}'));

const permission = process.permission;
write(JSON.stringify({
  ready: true,
  check: {
    permission: !!permission && !permission.has('fs.write') && !permission.has('child') && !permission.has('worker'),
    interfaces: Object.keys(os.networkInterfaces()),
    ppid: process.ppid,
    // Changing the supplementary groups needs CAP_SETGID: a confined process holds no capability.
    capabilities: (() => { try { process.setgroups([]); return true; } catch (_) { return false; } })(),
  },
}));

async function execute(line) {
  const task = JSON.parse(line);
  const fn = vm.runInContext('(' + task.source + '\n)', context, { filename: 'tool.js' });
  if (typeof fn !== 'function') throw new TypeError('the task source does not evaluate to a function');
  const args = parseInContext(task.args);
  const value = await fn(args);
  let json;
  try {
    json = JSON.stringify(value);
  } catch (err) {
    return failure(err, { output: true });
  }
  finish(json === undefined ? '{"ok":true}' : '{"ok":true,"value":' + json + '}');
}

let buffered = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  buffered += chunk;
  const end = buffered.indexOf('\n');
  if (end < 0) return;
  // Later input is ignored; the stream keeps flowing so that the end of stdin (the server is gone) is noticed.
  process.stdin.removeAllListeners('data');
  process.stdin.on('data', () => undefined);
  execute(buffered.slice(0, end)).catch((err) => failure(err));
});
process.stdin.on('end', () => process.exit(0));
`;
