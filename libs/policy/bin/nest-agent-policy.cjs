#!/usr/bin/env node
// The package's command: runs the compiled CLI (libs/policy/src/cli). Build the library first (npm run build:lib).
require('../dist/cli/main.js');
