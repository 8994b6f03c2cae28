// Copies the app's non-code files (the shipped policy file, the web console) next to the built app, so it finds them relative to itself.
const { cpSync } = require('node:fs');
const { join } = require('node:path');
const root = join(__dirname, '..');
cpSync(join(root, 'apps/agent-api/policy'), join(root, 'dist/apps/agent-api/policy'), { recursive: true });
cpSync(join(root, 'apps/agent-api/console'), join(root, 'dist/apps/agent-api/console'), { recursive: true });
