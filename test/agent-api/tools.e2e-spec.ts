/**
 * Tools under policy in agent-api (SPEC §12): the five shipped tools behind roles' `tools`, scopes, approvals,
 * argument validation and sanitization; `GET /tools`, `POST /sessions/:id/tools/:name` and `/tool` in a message.
 */
import { signToken, startAgentApi, type Harness } from '../support/harness-exports';

const bearer = (t: string) => ({ Authorization: `Bearer ${t}` });

interface AuditItem {
  type: string;
  outcome: string;
  principalId: string | null;
  details: Record<string, unknown> | null;
}

describe.each(['express', 'fastify'] as const)('agent-api tools (%s)', (adapter) => {
  let h: Harness;
  const admin = bearer(signToken({ sub: 'admin-1', roles: ['admin'], scope: 'admin', tenant_id: 't1' }));
  const operator = bearer(
    signToken({ sub: 'op-1', roles: ['operator'], scope: 'sessions:write events:write tools:write', tenant_id: 't1' }),
  );
  const approver = bearer(signToken({ sub: 'boss', roles: ['approver'], scope: 'approvals:write', tenant_id: 't1' }));
  const auditor = bearer(signToken({ sub: 'aud', roles: ['auditor'], scope: 'audit:read', tenant_id: 't1' }));
  const customerToken = (sub: string) =>
    bearer(signToken({ sub, roles: ['customer'], scope: 'sessions:write events:write tools:write', tenant_id: 't1' }));
  let agentId: string;
  let customerA: string;
  let customerB: string;
  let opSession: string;

  beforeAll(async () => {
    h = await startAgentApi({ adapter });
    agentId = (await h.http().post('/agents').set(admin).send({ name: 'support' }).expect(201)).body.id;
    customerA = (
      await h.http().post('/customers').set(admin).send({ name: 'Ada', email: 'ada@example.com' }).expect(201)
    ).body.id;
    customerB = (
      await h.http().post('/customers').set(admin).send({ name: 'Bob', email: 'bob@example.com' }).expect(201)
    ).body.id;
    opSession = (await h.http().post('/sessions').set(operator).send({ agentId, customerId: customerA }).expect(201))
      .body.id;
  });
  afterAll(() => h.close());

  const call = (session: string, name: string, args: unknown, auth: Record<string, string>) =>
    h.http().post(`/sessions/${session}/tools/${name}`).set(auth).send({ args });

  async function auditEvents(type: string, until: (items: AuditItem[]) => boolean): Promise<AuditItem[]> {
    let items: AuditItem[] = [];
    for (let i = 0; i < 50; i++) {
      const res = await h.http().get(`/audit?type=${type}&limit=500`).set(auditor);
      items = res.body.items ?? [];
      if (until(items)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    return items;
  }

  it('lists the tools each role may invoke, with their input schemas', async () => {
    const asCustomer = await h.http().get('/tools').set(customerToken('c-list'));
    expect(asCustomer.status).toBe(200);
    expect(asCustomer.body.items.map((t: { name: string }) => t.name)).toEqual(['get_customer_info', 'search_kb']);
    const asOperator = await h.http().get('/tools').set(operator);
    expect(asOperator.body.items.map((t: { name: string }) => t.name)).toEqual([
      'create_ticket',
      'get_customer_info',
      'search_kb',
      'send_notification',
    ]);
    const asAdmin = await h.http().get('/tools').set(admin);
    const runJs = asAdmin.body.items.find((t: { name: string }) => t.name === 'run_js');
    expect(runJs.input).toMatchObject({ type: 'object', required: ['code'], additionalProperties: false });
    // No tools:read scope: insufficient_scope.
    const noScope = await h
      .http()
      .get('/tools')
      .set(bearer(signToken({ roles: ['operator'], scope: 'sessions:read', tenant_id: 't1' })));
    expect(noScope.status).toBe(403);
    expect(noScope.body.code).toBe('insufficient_scope');
  });

  it('runs an allowed tool and answers { tool, result, durationMs }', async () => {
    const res = await call(opSession, 'search_kb', { query: 'How do I get a refund?' }, operator);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ tool: 'search_kb', durationMs: expect.any(Number) });
    expect(res.body.result.results[0].id).toBe('refund-policy');
    expect(res.body.result.results.length).toBeLessThanOrEqual(5);
  });

  it('denies a tool the role does not list with 403 forbidden and a tool.denied event', async () => {
    const sub = 'c-denied';
    const customer = customerToken(sub);
    const session = (
      await h.http().post('/sessions').set(customer).send({ agentId, customerId: customerA }).expect(201)
    ).body.id;
    const res = await call(
      session,
      'create_ticket',
      { customer_id: customerA, subject: 's', description: 'd', priority: 'low' },
      customer,
    );
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ statusCode: 403, code: 'forbidden', message: 'Not allowed' });
    const denied = await auditEvents('tool.denied', (items) => items.some((e) => e.principalId === sub));
    const event = denied.find((e) => e.principalId === sub);
    expect(event).toMatchObject({
      outcome: 'DENY',
      details: expect.objectContaining({ tool: 'create_ticket', code: 'forbidden' }),
    });
  });

  it('answers an unknown tool exactly like a forbidden one', async () => {
    const customer = customerToken('c-unknown');
    const session = (await h.http().post('/sessions').set(customer).send({ agentId }).expect(201)).body.id;
    const forbidden = await call(session, 'run_js', { code: '1' }, customer);
    const unknown = await call(session, 'no_such_tool', { code: '1' }, customer);
    const weird = await call(session, 'Robert%27);DROP', {}, customer);
    expect(unknown.status).toBe(403);
    expect(unknown.body).toEqual(forbidden.body);
    expect(weird.body).toEqual(forbidden.body);
    expect(unknown.headers['content-type']).toEqual(forbidden.headers['content-type']);
  });

  it('needs tools:write and answers insufficient_scope without it', async () => {
    const readOnly = bearer(
      signToken({ sub: 'op-ro', roles: ['operator'], scope: 'sessions:write tools:read', tenant_id: 't1' }),
    );
    const res = await call(opSession, 'search_kb', { query: 'refund' }, readOnly);
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('insufficient_scope');
  });

  it('rejects bad arguments with 400 naming the JSON path', async () => {
    const wrongEnum = await call(
      opSession,
      'create_ticket',
      { customer_id: customerA, subject: 's', description: 'd', priority: 'asap' },
      operator,
    );
    expect(wrongEnum.status).toBe(400);
    expect(wrongEnum.body.code).toBe('validation_failed');
    expect(wrongEnum.body.message).toContain('/priority');
    const missing = await call(
      opSession,
      'create_ticket',
      { customer_id: customerA, description: 'd', priority: 'low' },
      operator,
    );
    expect(missing.status).toBe(400);
    expect(missing.body.message).toContain('/subject');
    const extra = await call(opSession, 'search_kb', { query: 'refund', limit: 3 }, operator);
    expect(extra.status).toBe(400);
    expect(extra.body.message).toContain('/limit');
    const tooLong = await call(opSession, 'search_kb', { query: 'x'.repeat(501) }, operator);
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.message).toContain('/query');
    const wrongType = await call(opSession, 'search_kb', { query: 'refund', max_results: '3' }, operator);
    expect(wrongType.status).toBe(400);
    expect(wrongType.body.message).toContain('/max_results');
    const notObject = await h
      .http()
      .post(`/sessions/${opSession}/tools/search_kb`)
      .set(operator)
      .send({ args: ['refund'] });
    expect(notObject.status).toBe(400);
  });

  it('strips markup and script from x-sanitize: text fields before the tool sees them', async () => {
    const res = await call(
      opSession,
      'create_ticket',
      {
        customer_id: customerA,
        subject: 'Refund <script>alert(document.cookie)</script>please',
        description: '<img src=x onerror=alert(1)>Tom &amp; Jerry &lt;script&gt;alert(2)&lt;/script&gt; <b>bold</b>',
        priority: 'high',
      },
      operator,
    );
    expect(res.status).toBe(200);
    const ticket = res.body.result;
    expect(ticket.subject).toBe('Refund please');
    expect(ticket.description).not.toMatch(/<|script|onerror|alert/i);
    expect(ticket.description).toContain('Tom & Jerry');
    expect(ticket.description).toContain('bold');
    expect(ticket.tenantId).toBe('t1');
  });

  it("gives a customer only its session's own customer; another is a 404", async () => {
    const customer = customerToken('c-info');
    const session = (
      await h.http().post('/sessions').set(customer).send({ agentId, customerId: customerA }).expect(201)
    ).body.id;
    const own = await call(session, 'get_customer_info', { customer_id: customerA }, customer);
    expect(own.status).toBe(200);
    expect(own.body.result).toEqual({ id: customerA, name: 'Ada', email: 'ada@example.com' });
    const other = await call(session, 'get_customer_info', { customer_id: customerB }, customer);
    expect(other.status).toBe(404);
    expect(other.body.code).toBe('not_found');
    expect(JSON.stringify(other.body)).not.toContain('Bob');
    // Another customer's session is out of reach too.
    const stranger = customerToken('c-stranger');
    expect((await call(session, 'get_customer_info', { customer_id: customerA }, stranger)).status).toBe(404);
  });

  it('asks for an approval for send_notification, then passes exactly once with X-Approval-Id', async () => {
    const args = { customer_id: customerA, text: 'Your refund is on its way' };
    const first = await call(opSession, 'send_notification', args, operator);
    expect(first.status).toBe(403);
    expect(first.body).toMatchObject({ statusCode: 403, code: 'approval_required', approvalId: expect.any(String) });
    const approvalId = first.body.approvalId as string;
    // Not yet approved.
    expect((await call(opSession, 'send_notification', args, operator).set('X-Approval-Id', approvalId)).status).toBe(
      403,
    );
    await h.http().post(`/approvals/${approvalId}/approve`).set(approver).expect(200);
    // Bound to the exact arguments.
    const changed = await call(opSession, 'send_notification', { ...args, text: 'Something else' }, operator).set(
      'X-Approval-Id',
      approvalId,
    );
    expect(changed.status).toBe(403);
    expect(changed.body.code).toBe('forbidden');
    const done = await call(opSession, 'send_notification', args, operator).set('X-Approval-Id', approvalId);
    expect(done.status).toBe(200);
    expect(done.body.result).toMatchObject({ customerId: customerA, status: 'sent' });
    const again = await call(opSession, 'send_notification', args, operator).set('X-Approval-Id', approvalId);
    expect(again.status).toBe(403);
    expect(again.body.code).toBe('forbidden');
    // The audit event of the call has the sensitive text redacted.
    const invoked = await auditEvents('tool.invoked', (items) =>
      items.some((e) => e.details?.tool === 'send_notification'),
    );
    const event = invoked.find((e) => e.details?.tool === 'send_notification');
    expect(event).toMatchObject({
      outcome: 'SUCCESS',
      details: expect.objectContaining({ args: { customer_id: customerA, text: '[REDACTED]' } }),
    });
    expect(event?.details?.durationMs).toEqual(expect.any(Number));
  });

  it('runs /tool lines of a message under the caller policy and lists them on the reply', async () => {
    const customer = customerToken('c-msg');
    const session = (
      await h.http().post('/sessions').set(customer).send({ agentId, customerId: customerA }).expect(201)
    ).body.id;
    const message = [
      'Please help',
      '/tool search_kb {"query":"reset my password","max_results":1}',
      `/tool create_ticket {"customer_id":"${customerA}","subject":"s","description":"d","priority":"low"}`,
      '/tool search_kb not-json',
    ].join('\n');
    const res = await h.http().post(`/sessions/${session}/events`).set(customer).send({ message });
    expect(res.status).toBe(201);
    const calls = res.body.reply.toolCalls;
    expect(calls).toHaveLength(3);
    expect(calls[0]).toMatchObject({
      name: 'search_kb',
      status: 'ok',
      args: { query: 'reset my password', max_results: 1 },
    });
    expect(calls[0].result.results).toHaveLength(1);
    expect(calls[0].result.results[0].id).toBe('reset-password');
    expect(calls[1]).toMatchObject({
      name: 'create_ticket',
      status: 'error',
      error: { statusCode: 403, code: 'forbidden' },
    });
    expect(calls[2]).toMatchObject({ name: 'search_kb', status: 'error', error: { code: 'validation_failed' } });
    const listed = await h.http().get(`/sessions/${session}/events`).set(customer);
    const reply = listed.body.items.find((e: { role: string }) => e.role === 'agent');
    expect(reply.toolCalls).toHaveLength(3);
  });

  it('asks for the approval of a tool called from a message, and runs it once the message is sent again with the id', async () => {
    const message = `/tool send_notification {"customer_id":"${customerA}","text":"Ticket received"}`;
    const first = await h.http().post(`/sessions/${opSession}/events`).set(operator).send({ message });
    expect(first.status).toBe(201);
    const [asked] = first.body.reply.toolCalls;
    expect(asked).toMatchObject({
      name: 'send_notification',
      status: 'error',
      error: { statusCode: 403, code: 'approval_required', approvalId: expect.any(String) },
    });
    await h.http().post(`/approvals/${asked.error.approvalId}/approve`).set(approver).expect(200);
    const second = await h
      .http()
      .post(`/sessions/${opSession}/events`)
      .set(operator)
      .set('X-Approval-Id', asked.error.approvalId)
      .send({ message });
    expect(second.status).toBe(201);
    expect(second.body.reply.toolCalls[0]).toMatchObject({
      status: 'ok',
      result: { customerId: customerA, status: 'sent' },
    });
  });
});
