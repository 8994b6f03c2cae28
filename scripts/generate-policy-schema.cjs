// Writes libs/policy/policy.schema.json (shipped as nest-agent-policy/policy.schema.json) from the compiled
// schema modules, so the JSON Schema, the boot validation and the PolicyDocument type come from one definition.
// Runs after the library build; a test fails when the committed file drifts from the schema.
const { writeFileSync } = require('node:fs');
const { join } = require('node:path');
const root = join(__dirname, '..');
const { policyJsonSchemaText } = require(join(root, 'libs/policy/dist/schema/policy-document.schema.js'));
writeFileSync(join(root, 'libs/policy/policy.schema.json'), policyJsonSchemaText());
