export * from './agent-api.harness';
