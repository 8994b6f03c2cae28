// Refuses a dependency range that accepts any version ("*", "x", "latest", or empty) in the repository's package.json
// files: such a range lets a fresh install pull a new major without anyone deciding to.
const { readFileSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const manifests = [
  'package.json',
  ...JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).workspaces.map((w) => `${w}/package.json`),
];
const SECTIONS = ['dependencies', 'devDependencies', 'peerDependencies', 'optionalDependencies'];
const UNBOUNDED = /^\s*(\*|x|X|latest|)\s*$/;

const problems = [];
for (const manifest of manifests) {
  const pkg = JSON.parse(readFileSync(join(root, manifest), 'utf8'));
  for (const section of SECTIONS) {
    for (const [name, range] of Object.entries(pkg[section] ?? {})) {
      if (
        typeof range !== 'string' ||
        UNBOUNDED.test(range) ||
        range.split('||').some((part) => UNBOUNDED.test(part))
      ) {
        problems.push(`${manifest}: ${section}.${name} is "${range}"; give a bounded range (e.g. ^1.2.3)`);
      }
    }
  }
}
if (problems.length) {
  console.error(problems.join('\n'));
  process.exit(1);
}
