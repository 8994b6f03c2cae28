// agent-api console: a small single-page app over the public HTTP API. Every value from the API is written with
// textContent (never as HTML); the credential lives in this tab's sessionStorage only.
const STORAGE_KEY = 'agent-api-console.credential';
const $ = (selector) => document.querySelector(selector);
const charts = [];

function credential() {
  return sessionStorage.getItem(STORAGE_KEY);
}

function authHeaders() {
  const value = credential() ?? '';
  return value.startsWith('apk_') ? { 'X-API-Key': value } : { Authorization: `Bearer ${value}` };
}

class ApiError extends Error {
  constructor(status, body) {
    super(body?.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = body?.code ?? 'error';
  }
}

async function api(path, { method = 'GET', body } = {}) {
  const headers = { Accept: 'application/json', ...authHeaders() };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (res.status === 204) return null;
  const data = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

function say(text, ok = false) {
  const box = $('#message');
  box.className = ok ? 'ok' : '';
  box.textContent = text;
}

function sayError(error) {
  say(error instanceof ApiError ? `${error.status} ${error.code}: ${error.message}` : String(error.message ?? error));
  if (error instanceof ApiError && error.status === 401) signOut(false);
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'on') for (const [event, handler] of Object.entries(value)) node.addEventListener(event, handler);
    else if (key === 'text') node.textContent = String(value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat())
    node.append(child instanceof Node ? child : document.createTextNode(String(child ?? '')));
  return node;
}

function table(caption, columns, rows, attrs = {}) {
  return el(
    'table',
    attrs,
    el('caption', { class: 'visually-hidden', text: caption }),
    el(
      'thead',
      {},
      el(
        'tr',
        {},
        columns.map((c) => el('th', { scope: 'col', text: c.label })),
      ),
    ),
    el(
      'tbody',
      {},
      rows.length === 0
        ? el('tr', {}, el('td', { colspan: columns.length, text: 'Nothing to show.' }))
        : rows.map((row) =>
            el(
              'tr',
              {},
              columns.map((c) => el('td', {}, c.render ? c.render(row) : String(row[c.key] ?? ''))),
            ),
          ),
    ),
  );
}

function field(label, input) {
  return el('label', {}, label, input);
}

function when(iso) {
  return iso ? new Date(iso).toLocaleString() : '';
}

function clearCharts() {
  while (charts.length) charts.pop().destroy();
}

function chart(id, caption, type, labels, datasets, { stacked = false } = {}) {
  const canvas = el('canvas', { id, role: 'img', 'aria-label': `${caption} (the table below lists the same figures)` });
  const rows = labels.map((label, i) => ({ label, ...Object.fromEntries(datasets.map((d) => [d.label, d.data[i]])) }));
  const figure = el(
    'figure',
    { 'data-chart': id },
    el('figcaption', { text: caption }),
    el('div', { class: 'chart-box' }, canvas),
    el(
      'details',
      {},
      el('summary', { text: 'Figures' }),
      table(
        caption,
        [{ key: 'label', label: 'When / what' }, ...datasets.map((d) => ({ key: d.label, label: d.label }))],
        rows,
        { 'data-figures': id },
      ),
    ),
  );
  queueMicrotask(() => {
    if (!window.Chart) return;
    const palette = ['#1f883d', '#cf222e', '#bf8700', '#0969da', '#8250df', '#57606a'];
    charts.push(
      new window.Chart(canvas, {
        type,
        data: {
          labels,
          datasets: datasets.map((d, i) => ({
            ...d,
            backgroundColor: palette[i % palette.length],
            borderColor: palette[i % palette.length],
          })),
        },
        options: {
          animation: false,
          responsive: true,
          maintainAspectRatio: false,
          scales: { x: { stacked }, y: { stacked, beginAtZero: true, ticks: { precision: 0 } } },
        },
      }),
    );
  });
  return figure;
}

const RANGES = {
  hour: { label: 'Last hour, per minute', ms: 3_600_000, step: 60_000 },
  day: { label: 'Last 24 hours, per hour', ms: 86_400_000, step: 3_600_000 },
  month: { label: 'Last 30 days, per day', ms: 30 * 86_400_000, step: 86_400_000 },
};

async function auditSince(since, maxPages = 20) {
  const items = [];
  let cursor = null;
  for (let page = 0; page < maxPages; page++) {
    const query = new URLSearchParams({ since: since.toISOString(), limit: '500' });
    if (cursor) query.set('cursor', cursor);
    const res = await api(`/audit?${query}`);
    items.push(...res.items);
    cursor = res.nextCursor;
    if (!cursor) break;
  }
  return items;
}

function denialCode(event) {
  if (event.type === 'rate_limit.exceeded') return 'rate_limited';
  if (event.type === 'budget.exceeded') return 'budget_exceeded';
  if (event.type === 'auth.failure') return 'invalid_token';
  return event.details?.code ?? 'forbidden';
}

async function overview(page) {
  const rangeKey = sessionStorage.getItem('agent-api-console.range') ?? 'hour';
  const range = RANGES[rangeKey] ?? RANGES.hour;
  const select = el(
    'select',
    {
      id: 'range',
      on: {
        change: (e) => {
          sessionStorage.setItem('agent-api-console.range', e.target.value);
          render();
        },
      },
    },
    Object.entries(RANGES).map(([key, r]) => el('option', { value: key, selected: key === rangeKey, text: r.label })),
  );
  page.append(
    el('h2', { text: 'Overview' }),
    el('form', { on: { submit: (e) => e.preventDefault() } }, field('Time range', select)),
  );
  const now = Date.now();
  const start = Math.floor((now - range.ms) / range.step) * range.step + range.step;
  const buckets = Math.round(range.ms / range.step);
  const labels = Array.from({ length: buckets }, (_, i) => {
    const t = new Date(start + i * range.step);
    return range.step < 86_400_000
      ? t.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
      : t.toLocaleDateString();
  });
  const bucketOf = (iso) => Math.floor((Date.parse(iso) - start) / range.step);
  const charts = el('div', { class: 'charts' });
  page.append(charts);

  try {
    const events = await auditSince(new Date(start));
    const series = { Granted: [], Denied: [], 'Rate-limited': [], 'Auth failures': [], 'Shadow (let pass)': [] };
    for (const s of Object.values(series)) for (let i = 0; i < buckets; i++) s.push(0);
    const codes = new Map();
    for (const event of events) {
      const i = bucketOf(event.createdAt);
      if (i < 0 || i >= buckets) continue;
      // A refusal a control in shadow mode let pass is shown apart: it was not refused.
      const name =
        event.outcome === 'SHADOW_DENY'
          ? 'Shadow (let pass)'
          : event.type === 'access.granted'
            ? 'Granted'
            : event.type === 'rate_limit.exceeded'
              ? 'Rate-limited'
              : event.type === 'auth.failure'
                ? 'Auth failures'
                : event.outcome === 'DENY'
                  ? 'Denied'
                  : null;
      if (name) series[name][i] += 1;
      if (name && name !== 'Granted' && name !== 'Shadow (let pass)') {
        const code = denialCode(event);
        codes.set(code, (codes.get(code) ?? 0) + 1);
      }
    }
    charts.append(
      chart(
        'requests',
        'Decisions over time',
        'bar',
        labels,
        Object.entries(series).map(([label, data]) => ({ label, data })),
        { stacked: true },
      ),
      chart('denials', 'Denials by code', 'bar', [...codes.keys()], [{ label: 'Denials', data: [...codes.values()] }]),
      chart('rate-limits', 'Rate-limit hits over time', 'line', labels, [
        { label: 'Rate-limit hits', data: series['Rate-limited'] },
      ]),
    );
  } catch (error) {
    sayError(error);
  }
  try {
    const usage = await api(
      `/usage?${new URLSearchParams({ groupBy: 'day', since: new Date(now - 30 * 86_400_000).toISOString() })}`,
    );
    const items = [...usage.items].sort((a, b) => String(a.key).localeCompare(String(b.key)));
    charts.append(
      chart(
        'spend',
        'Spend per day (USD)',
        'bar',
        items.map((r) => r.key),
        [{ label: 'USD', data: items.map((r) => r.cost) }],
      ),
    );
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 403)) sayError(error);
  }
}

async function approvals(page) {
  page.append(el('h2', { text: 'Approvals waiting' }));
  const list = await api('/approvals?status=pending&limit=100');
  const decide = (item, verdict) => async () => {
    try {
      await api(`/approvals/${encodeURIComponent(item.id)}/${verdict}`, { method: 'POST' });
      say(`${verdict === 'approve' ? 'Approved' : 'Denied'} ${item.operation} (${item.id}).`, true);
      await render(false);
    } catch (error) {
      sayError(error);
    }
  };
  page.append(
    table(
      'Approvals waiting',
      [
        { key: 'operation', label: 'Operation' },
        { key: 'principalId', label: 'Requested by' },
        { key: 'reason', label: 'Reason' },
        { label: 'Requested', render: (r) => when(r.createdAt) },
        { label: 'Expires', render: (r) => when(r.expiresAt) },
        { key: 'id', label: 'Id' },
        {
          label: 'Decision',
          render: (r) =>
            el(
              'span',
              {},
              el(
                'button',
                {
                  type: 'button',
                  class: 'primary',
                  'data-approve': r.id,
                  'aria-label': `Approve ${r.operation} ${r.id}`,
                  on: { click: decide(r, 'approve') },
                },
                'Approve',
              ),
              ' ',
              el(
                'button',
                {
                  type: 'button',
                  class: 'danger',
                  'data-deny': r.id,
                  'aria-label': `Deny ${r.operation} ${r.id}`,
                  on: { click: decide(r, 'deny') },
                },
                'Deny',
              ),
            ),
        },
      ],
      list.items,
      { id: 'approvals-table' },
    ),
  );
}

const AUDIT_TYPES = [
  '',
  'auth.failure',
  'access.denied',
  'access.granted',
  'rate_limit.exceeded',
  'budget.exceeded',
  'budget.soft_limit',
  'approval.requested',
  'approval.decided',
  'api_key.created',
  'api_key.revoked',
  'token.revoked',
  'security.anomaly',
];

async function audit(page) {
  page.append(el('h2', { text: 'Audit log' }));
  const type = el(
    'select',
    { name: 'type' },
    AUDIT_TYPES.map((t) => el('option', { value: t, text: t || 'any type' })),
  );
  const principal = el('input', { name: 'principalId', maxlength: 200 });
  const since = el('input', { name: 'since', type: 'datetime-local' });
  const until = el('input', { name: 'until', type: 'datetime-local' });
  const result = el('p', { class: 'verify-result', id: 'verify-result', 'aria-live': 'polite' });
  const rows = el('div', { id: 'audit-results' });
  let cursor = null;
  const more = el('button', { type: 'button', hidden: true, on: { click: () => search(false) } }, 'Load more');
  async function search(fresh = true) {
    try {
      const query = new URLSearchParams({ limit: '50' });
      if (type.value) query.set('type', type.value);
      if (principal.value.trim()) query.set('principalId', principal.value.trim());
      if (since.value) query.set('since', new Date(since.value).toISOString());
      if (until.value) query.set('until', new Date(until.value).toISOString());
      if (!fresh && cursor) query.set('cursor', cursor);
      const res = await api(`/audit?${query}`);
      cursor = res.nextCursor;
      more.hidden = !cursor;
      const t = table(
        'Audit events',
        [
          { label: 'Time', render: (r) => when(r.createdAt) },
          { key: 'type', label: 'Type' },
          { key: 'outcome', label: 'Outcome' },
          { key: 'principalId', label: 'Principal' },
          { key: 'operation', label: 'Operation' },
          {
            label: 'Reasons',
            render: (r) => (Array.isArray(r.reasons) ? r.reasons.join('; ') : JSON.stringify(r.reasons)),
          },
        ],
        res.items,
      );
      if (fresh) rows.replaceChildren(t);
      else rows.append(t);
    } catch (error) {
      sayError(error);
    }
  }
  async function verify() {
    result.textContent = 'Verifying…';
    try {
      const v = await api('/audit/verify');
      result.textContent = v.valid
        ? `Valid: ${v.checked} events checked, every link and hash holds.`
        : `Broken: the first broken event is ${v.firstBrokenId} (${v.checked} checked).`;
      result.dataset.valid = String(v.valid);
    } catch (error) {
      result.textContent = '';
      sayError(error);
    }
  }
  page.append(
    el(
      'form',
      {
        id: 'audit-search',
        on: {
          submit: (e) => {
            e.preventDefault();
            search(true);
          },
        },
      },
      field('Type', type),
      field('Principal id', principal),
      field('Since', since),
      field('Until', until),
      el('button', { type: 'submit', class: 'primary' }, 'Search'),
    ),
    el('p', {}, el('button', { type: 'button', id: 'verify', on: { click: verify } }, 'Verify the chain')),
    result,
    rows,
    more,
  );
  await search(true);
}

async function keys(page) {
  page.append(el('h2', { text: 'API keys' }));
  const name = el('input', { name: 'name', required: true, maxlength: 200 });
  const roles = el('input', { name: 'roles', required: true, placeholder: 'operator, auditor' });
  const scopes = el('input', { name: 'scopes', placeholder: 'agents:read sessions:write' });
  const expires = el('input', { name: 'expiresAt', type: 'date' });
  const shown = el('div', { id: 'new-key', 'aria-live': 'polite' });
  const list = await api('/api-keys?limit=100');
  const revoke = (item) => async () => {
    try {
      await api(`/api-keys/${encodeURIComponent(item.id)}`, { method: 'DELETE' });
      say(`Revoked key ${item.name} (${item.id}).`, true);
      await render(false);
    } catch (error) {
      sayError(error);
    }
  };
  page.append(
    el('h3', { text: 'Create a key' }),
    el(
      'form',
      {
        id: 'create-key',
        on: {
          submit: async (e) => {
            e.preventDefault();
            try {
              const body = {
                name: name.value.trim(),
                roles: roles.value
                  .split(',')
                  .map((r) => r.trim())
                  .filter(Boolean),
                scopes: scopes.value.split(/\s+/).filter(Boolean),
              };
              if (expires.value) body.expiresAt = new Date(`${expires.value}T23:59:59Z`).toISOString();
              const created = await api('/api-keys', { method: 'POST', body });
              await render(false);
              $('#new-key').replaceChildren(
                el('p', {
                  text: `Key "${created.name}" created. Copy it now: it is shown once and cannot be read again.`,
                }),
                el('p', { class: 'secret', id: 'new-key-value', text: created.key }),
              );
            } catch (error) {
              sayError(error);
            }
          },
        },
      },
      field('Name', name),
      field('Roles (comma-separated)', roles),
      field('Scopes (space-separated)', scopes),
      field('Expires', expires),
      el('button', { type: 'submit', class: 'primary' }, 'Create key'),
    ),
    shown,
    el('h3', { text: 'Keys' }),
    table(
      'API keys',
      [
        { key: 'name', label: 'Name' },
        { key: 'id', label: 'Id' },
        { label: 'Roles', render: (r) => r.roles.join(', ') },
        { label: 'Scopes', render: (r) => r.scopes.join(' ') },
        { key: 'tenantId', label: 'Tenant' },
        { label: 'Expires', render: (r) => when(r.expiresAt) },
        { label: 'Last used', render: (r) => when(r.lastUsedAt) },
        { label: 'State', render: (r) => (r.revokedAt ? `revoked ${when(r.revokedAt)}` : 'active') },
        {
          label: '',
          render: (r) =>
            r.revokedAt
              ? ''
              : el(
                  'button',
                  {
                    type: 'button',
                    class: 'danger',
                    'data-revoke': r.id,
                    'aria-label': `Revoke key ${r.name}`,
                    on: { click: revoke(r) },
                  },
                  'Revoke',
                ),
        },
      ],
      list.items,
      { id: 'keys-table' },
    ),
  );
}

async function budgets(page) {
  page.append(el('h2', { text: 'Budgets and usage' }));
  const remaining = await api('/budgets/remaining');
  page.append(
    el('h3', { text: 'Remaining' }),
    table(
      'Budgets remaining',
      [
        { key: 'scope', label: 'Scope' },
        { key: 'period', label: 'Period' },
        { key: 'unit', label: 'Unit' },
        { key: 'limit', label: 'Limit' },
        { key: 'used', label: 'Used' },
        { key: 'reserved', label: 'Reserved' },
        { key: 'remaining', label: 'Remaining' },
        { label: 'Resets', render: (r) => when(r.resetAt) },
      ],
      remaining.budgets,
      { id: 'budgets-table' },
    ),
  );
  try {
    const [byModel, byDay] = await Promise.all([api('/usage?groupBy=model'), api('/usage?groupBy=day')]);
    const usageColumns = (first) => [
      { key: 'key', label: first },
      { key: 'requests', label: 'Requests' },
      { key: 'inputTokens', label: 'Input tokens' },
      { key: 'outputTokens', label: 'Output tokens' },
      { label: 'Cost (USD)', render: (r) => Number(r.cost).toFixed(6) },
    ];
    const days = [...byDay.items].sort((a, b) => String(a.key).localeCompare(String(b.key)));
    page.append(
      el('h3', { text: 'Usage by model' }),
      table('Usage by model', usageColumns('Model'), byModel.items, { id: 'usage-model' }),
      el('h3', { text: 'Usage by day' }),
      table('Usage by day', usageColumns('Day'), days, { id: 'usage-day' }),
      chart(
        'usage-day-chart',
        'Cost per day (USD)',
        'bar',
        days.map((r) => r.key),
        [{ label: 'USD', data: days.map((r) => r.cost) }],
      ),
    );
  } catch (error) {
    sayError(error);
  }
}

const PAGES = { overview, approvals, audit, keys, budgets };

async function render(clearMessage = true) {
  clearCharts();
  if (clearMessage) say('');
  const signedIn = Boolean(credential());
  $('#sign-in').hidden = signedIn;
  $('#nav').hidden = !signedIn;
  const page = $('#page');
  page.hidden = !signedIn;
  if (!signedIn) return;
  const name = location.hash.replace(/^#\//, '') || 'overview';
  const show = PAGES[name] ?? overview;
  for (const link of document.querySelectorAll('#nav a')) {
    if (link.getAttribute('href') === `#/${name}`) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  const fresh = el('div', { 'data-page': name, 'aria-busy': 'true' });
  page.replaceChildren(fresh);
  try {
    await show(fresh);
  } catch (error) {
    sayError(error);
  } finally {
    fresh.setAttribute('aria-busy', 'false');
    page.dataset.ready = name;
  }
}

function signOut(clear = true) {
  sessionStorage.removeItem(STORAGE_KEY);
  if (clear) say('');
  render(false);
}

$('#sign-in-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const value = $('#credential')
    .value.trim()
    .replace(/^Bearer\s+/i, '');
  if (!value) return;
  sessionStorage.setItem(STORAGE_KEY, value);
  $('#credential').value = '';
  if (!location.hash) location.hash = '#/overview';
  render();
  $('#main').focus();
});
$('#sign-out').addEventListener('click', () => signOut());
window.addEventListener('hashchange', () => render());
render();
