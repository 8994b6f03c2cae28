import { randomBytes } from 'node:crypto';

/** Field-encryption keys for an agent-api run in production mode (it refuses to start without them). */
export function dataKeyEnv(): Record<string, string> {
  return {
    DATA_KEYS: `bench:${randomBytes(32).toString('base64')}`,
    BLIND_INDEX_KEY: randomBytes(32).toString('base64'),
  };
}
