// Copies the app's non-code files (the shipped policy file, the web console, the FAQ corpus) next to the built app,
// so it finds them relative to itself.
const { cpSync } = require('node:fs');
const { join } = require('node:path');
const root = join(__dirname, '..');
for (const dir of ['policy', 'console', 'kb']) {
  cpSync(join(root, 'apps/agent-api', dir), join(root, 'dist/apps/agent-api', dir), { recursive: true });
}
