/**
 * The web console in a real headless browser (Debian's Chromium through playwright-core) against the real
 * agent-api: sign in, charts drawn from real traffic, approve a waiting request, create and revoke a key, verify
 * the audit chain, and a forbidden action showing the API's message. Screenshots of each page go to
 * test-results/console/.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ADMIN, signToken, startAgentApi, type Harness } from '../support/agent-api.harness';
import { waitFor } from '../support/wait-for';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SHOTS = resolve(__dirname, '../../test-results/console');
const haveBrowser = existsSync(CHROMIUM);
if (!haveBrowser && process.env.REQUIRE_SERVICES === '1') {
  throw new Error(`Chromium is missing at ${CHROMIUM} and REQUIRE_SERVICES=1 (.ci/run installs Debian's chromium)`);
}
const itBrowser = haveBrowser ? it : it.skip;
if (!haveBrowser) console.warn(`SKIPPED: console browser tests need Chromium at ${CHROMIUM}`);

const bearer = (claims: Record<string, unknown>) => ({ Authorization: `Bearer ${signToken(claims)}` });

describe.each(['express', 'fastify'] as const)('web console in Chromium (%s)', (adapter) => {
  let h: Harness;
  let browser: Browser;
  let page: Page;
  const admin = signToken({ sub: 'console-admin', ...ADMIN });
  const operator = bearer({ sub: 'console-operator', roles: ['operator'], scope: 'agents:write' });
  let approvalId = '';
  let agentToDelete = '';
  const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${adapter}-${name}.png`), fullPage: true });

  async function open(hash: string): Promise<void> {
    await page.evaluate(`location.hash = ${JSON.stringify(hash)}`);
    await page.waitForSelector(`[data-page="${hash.slice(2)}"][aria-busy="false"]`, { timeout: 15_000 });
  }

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    h = await startAgentApi({
      adapter,
      configure: (config) => {
        config.policy.rateLimits = {
          ...config.policy.rateLimits,
          operations: { ...config.policy.rateLimits?.operations, 'agent.list': { limit: 2, ttl: 60 } },
        };
      },
    });
    const a = { Authorization: `Bearer ${admin}` };
    // Real traffic for the charts: denials of two codes, rate-limit hits and a budgeted exchange.
    const customer = bearer({ sub: 'console-customer', roles: ['customer'], scope: 'sessions:write events:write' });
    for (let i = 0; i < 3; i++) expect((await h.http().get('/customers').set(customer)).status).toBe(403);
    const reader = bearer({ sub: 'console-reader', roles: ['operator'], scope: 'agents:read' });
    const agent = await h.http().post('/agents').set(a).send({ name: 'console agent' });
    expect(agent.status).toBe(201);
    expect((await h.http().patch(`/agents/${agent.body.id}`).set(reader).send({ name: 'x' })).status).toBe(403);
    const lister = bearer({ sub: 'console-lister', roles: ['operator'], scope: 'agents:read' });
    const listed = [];
    for (let i = 0; i < 4; i++) listed.push((await h.http().get('/agents').set(lister)).status);
    expect(listed).toEqual([200, 200, 429, 429]);
    const session = await h.http().post('/sessions').set(customer).send({ agentId: agent.body.id });
    expect(session.status).toBe(201);
    expect(
      (await h.http().post(`/sessions/${session.body.id}/events`).set(customer).send({ message: 'hello console' }))
        .status,
    ).toBe(201);
    // A request waiting for a human.
    agentToDelete = (await h.http().post('/agents').set(operator).send({ name: 'to delete' })).body.id;
    const waiting = await h.http().delete(`/agents/${agentToDelete}`).set(operator);
    expect(waiting.body.code).toBe('approval_required');
    approvalId = waiting.body.approvalId;

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${h.url}/console`);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await h?.close();
  });

  itBrowser('serves the console with a strict CSP and only its own files', async () => {
    const res = await h.http().get('/console');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toContain('text/html');
    expect(res.headers['content-security-policy']).toContain("script-src 'self'");
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect((await h.http().get('/console/console.js')).headers['content-type']).toContain('javascript');
    for (const path of [
      '/console/..%2Fpolicy%2Fagent-api.policy.yaml',
      '/console/%2e%2e',
      '/console/nope.js',
      '/console/__proto__',
    ]) {
      const miss = await h.http().get(path);
      expect(miss.status).toBe(404);
      expect(miss.body.code).toBe('not_found');
    }
  });

  itBrowser(
    'signs in with a pasted token kept in session storage only, and draws charts from real traffic',
    async () => {
      await page.getByLabel('Token or API key').fill(admin);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForSelector('[data-page="overview"][aria-busy="false"]');
      expect(
        await page.evaluate(
          '({ local: localStorage.length, cookie: document.cookie, session: Object.keys(sessionStorage) })',
        ),
      ).toEqual({
        local: 0,
        cookie: '',
        session: ['agent-api-console.credential'],
      });
      // The figures behind the charts: 4 denials (3 forbidden, 1 insufficient_scope) and 2 rate-limit hits.
      // Browser-side code is passed as text: this project type-checks without the DOM library.
      const denials = await page.evaluate<string[][]>(
        `[...document.querySelectorAll('[data-figures="denials"] tbody tr')].map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent))`,
      );
      expect(Object.fromEntries(denials)).toMatchObject({ forbidden: '3', insufficient_scope: '1', rate_limited: '2' });
      const spend = await page.evaluate<number[]>(
        `[...document.querySelectorAll('[data-figures="spend"] tbody td:nth-child(2)')].map((c) => Number(c.textContent))`,
      );
      expect(spend.reduce((s, v) => s + v, 0)).toBeGreaterThan(0);
      // The canvases are drawn: pixels that are not transparent.
      const drawn = await page.evaluate<number[]>(`[...document.querySelectorAll('canvas')].map((c) => {
      const { data } = c.getContext('2d').getImageData(0, 0, c.width, c.height);
      let painted = 0;
      for (let i = 3; i < data.length; i += 4) if (data[i] > 0) painted += 1;
      return painted;
    })`);
      expect(drawn).toHaveLength(4);
      for (const painted of drawn) expect(painted).toBeGreaterThan(500);
      await shot('overview');
    },
  );

  itBrowser('approves the waiting request, which then passes once', async () => {
    await open('#/approvals');
    const button = page.locator(`[data-approve="${approvalId}"]`);
    await expect(button.getAttribute('aria-label')).resolves.toContain('Approve agent.delete');
    await shot('approvals');
    await button.click();
    await page.waitForSelector('#message.ok');
    expect(await page.textContent('#message')).toContain(`Approved agent.delete (${approvalId})`);
    expect(await page.locator(`[data-approve="${approvalId}"]`).count()).toBe(0);
    expect(
      (await h.http().delete(`/agents/${agentToDelete}`).set(operator).set('X-Approval-Id', approvalId)).status,
    ).toBe(204);
  });

  itBrowser('creates a key shown once, which works until it is revoked', async () => {
    await open('#/keys');
    await page.getByLabel('Name').fill('console auditor');
    await page.getByLabel('Roles (comma-separated)').fill('auditor');
    await page.getByLabel('Scopes (space-separated)').fill('audit:read');
    await page.getByRole('button', { name: 'Create key' }).click();
    const key = (await page.locator('#new-key-value').textContent({ timeout: 10_000 }))!.trim();
    expect(key).toMatch(/^apk_[0-9a-f]{16}_/);
    await shot('keys');
    expect((await h.http().get('/audit').set('X-API-Key', key)).status).toBe(200);
    const id = key.split('_')[1];
    await page.locator(`[data-revoke="${id}"]`).click();
    await page.waitForSelector('#message.ok');
    expect(await page.textContent('#message')).toContain(`Revoked key console auditor (${id})`);
    // Revocation is immediate on this instance.
    expect((await h.http().get('/audit').set('X-API-Key', key)).status).toBe(401);
    // Shown once: the list never holds the secret.
    // The secret is base64url and may hold `_` itself (or start with one): everything after `apk_<id>_`.
    const secret = key.slice(`apk_${id}_`.length);
    expect(secret).toHaveLength(43);
    expect(await page.locator('#keys-table').textContent()).not.toContain(secret);
  });

  itBrowser('searches the audit log and verifies the chain', async () => {
    await open('#/audit');
    await page.getByLabel('Type').selectOption('rate_limit.exceeded');
    await page.getByRole('button', { name: 'Search' }).click();
    // Polled from the test, not evaluated in the page: the console's CSP (script-src 'self') refuses the eval that a
    // string predicate of waitForFunction needs once it has to poll.
    const rows = page.locator('#audit-results tbody tr');
    await waitFor(async () => (await rows.count()) === 2, { timeout: 30_000, what: 'two rate_limit.exceeded rows' });
    await page.getByRole('button', { name: 'Verify the chain' }).click();
    await page.waitForSelector('#verify-result[data-valid]');
    expect(await page.getAttribute('#verify-result', 'data-valid')).toBe('true');
    expect(await page.textContent('#verify-result')).toMatch(/^Valid: \d+ events checked/);
    await shot('audit');
  });

  itBrowser('shows budgets remaining and usage by model and day', async () => {
    await open('#/budgets');
    expect(await page.locator('#budgets-table tbody tr').count()).toBeGreaterThan(0);
    expect(await page.locator('#usage-model').textContent()).toContain('echo-1');
    expect(await page.locator('#usage-day tbody tr').count()).toBeGreaterThan(0);
    await shot('budgets');
  });

  itBrowser("shows the API's message when the signed-in principal is not allowed", async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page
      .getByLabel('Token or API key')
      .fill(signToken({ sub: 'console-viewer', roles: ['customer'], scope: 'sessions:read' }));
    await page.getByRole('button', { name: 'Sign in' }).click();
    await open('#/audit');
    expect(await page.textContent('#message')).toMatch(/^403 forbidden: /);
    // Keyboard: the navigation is reachable and follows focus.
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement?.textContent')).toBeTruthy();
    await shot('forbidden');
  });
});
