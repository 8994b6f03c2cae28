/**
 * NestJS 12 ships as ES modules. The application itself is CommonJS and loads them through Node's
 * require(esm); Jest's module registry cannot do that on Node 20, so the ESM-only packages are
 * compiled to CommonJS by test/support/esm-to-cjs.transformer.cjs when tests load them.
 */
const ESM_PACKAGES = [
  '@nestjs',
  'gpt-tokenizer',
  'file-type',
  'strtok3',
  'token-types',
  '@tokenizer',
  '@borewit',
  'uint8array-extras',
  'content-disposition',
  'set-cookie-parser',
  'toad-cache',
  'safe-stable-stringify',
  'tslib',
  'libphonenumber-js',
  '@standard-schema',
  'ansis',
  'uid',
];

module.exports = {
  testEnvironment: 'node',
  rootDir: '.',
  roots: ['<rootDir>/libs', '<rootDir>/apps', '<rootDir>/test'],
  testRegex: '.*\\.(spec|e2e-spec)\\.ts$',
  moduleFileExtensions: ['ts', 'js', 'mjs', 'cjs', 'json'],
  moduleNameMapper: {
    '^nest-agent-policy$': '<rootDir>/libs/policy/src/index.ts',
    '^nest-agent-policy/keep-next-tick-shape$': '<rootDir>/libs/policy/src/keep-next-tick-shape.ts',
  },
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.spec.json' }],
    '^.+\\.m?js$': '<rootDir>/test/support/esm-to-cjs.transformer.cjs',
  },
  transformIgnorePatterns: [`/node_modules/(?!(${ESM_PACKAGES.join('|')})/)`],
  maxWorkers: 2,
  globalSetup: '<rootDir>/test/support/global-setup.cjs',
  testTimeout: 30000,
};
