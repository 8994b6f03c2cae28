/**
 * Jest global setup: probes PostgreSQL and Redis once, before any suite loads, and publishes the answer in
 * TEST_SERVICES_UP (inherited by the workers), so that suites can choose `it` or `it.skip` when they are defined —
 * a missing service shows as a skipped test, never as a test that returns early and passes green. Under
 * REQUIRE_SERVICES=1 a missing service fails the run here.
 */
const { Client } = require('pg');
const Redis = require('ioredis');

const DATABASE_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';

async function up(check) {
  try {
    await check();
    return true;
  } catch {
    return false;
  }
}

module.exports = async function globalSetup() {
  const postgres = await up(async () => {
    const client = new Client({ connectionString: DATABASE_URL, connectionTimeoutMillis: 2000 });
    await client.connect();
    await client.end();
  });
  const redis = await up(async () => {
    const client = new (Redis.default || Redis)(REDIS_URL, {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      connectTimeout: 2000,
      retryStrategy: () => null,
    });
    try {
      await client.connect();
      await client.ping();
    } finally {
      client.disconnect();
    }
  });
  const missing = [!postgres && `postgres (${DATABASE_URL})`, !redis && `redis (${REDIS_URL})`].filter(Boolean);
  if (missing.length && process.env.REQUIRE_SERVICES === '1') {
    throw new Error(`REQUIRE_SERVICES=1 but unreachable: ${missing.join(', ')}`);
  }
  if (missing.length)
    console.warn(`\nSuites needing ${missing.join(', ')} are SKIPPED; set REQUIRE_SERVICES=1 to make this a failure.`);
  process.env.TEST_SERVICES_UP = [postgres && 'postgres', redis && 'redis'].filter(Boolean).join(',');
};
