import { Writable } from 'node:stream';
import pino from 'pino';
import { requestLogLine } from './request-log';
import { PinoLoggerService } from './pino-logger.service';

describe('requestLogLine', () => {
  it('takes the request id, principal and operation the pipeline recorded, and the route template', () => {
    const line = requestLogLine(
      {
        method: 'GET',
        headers: { 'x-request-id': 'from-header' },
        policyContext: { requestId: 'r-1', operation: 'customer.read' },
        principal: { id: 'user-1', tenantId: 't1' },
      },
      '/customers/:id',
      200,
      1.23456,
    );
    expect(line).toEqual({
      requestId: 'r-1',
      principalId: 'user-1',
      tenantId: 't1',
      operation: 'customer.read',
      method: 'GET',
      route: '/customers/:id',
      status: 200,
      latencyMs: 1.235,
    });
  });

  it('falls back to a well-formed X-Request-Id, else a new id, for requests the pipeline never saw', () => {
    expect(requestLogLine({ headers: { 'x-request-id': 'abc-1' } }, null, 404, 0).requestId).toBe('abc-1');
    expect(requestLogLine({ headers: { 'x-request-id': 'bad id\n' } }, null, 404, 0).requestId).toMatch(
      /^[0-9a-f-]{36}$/,
    );
    expect(requestLogLine({}, null, 404, 0)).toMatchObject({ principalId: null, operation: null, route: null });
  });

  it('logs no method for a request answered before its method was known', () => {
    expect(requestLogLine({}, null, 400, 0).method).toBeNull();
  });
});

describe('PinoLoggerService', () => {
  it('writes JSON lines with context and masks credentials that slip into messages', () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk, _enc, done) => (lines.push(chunk.toString()), done()) });
    const logger = new PinoLoggerService(pino(sink));
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXNpZ25hdHVyZQ';
    logger.warn(`rejected Bearer ${jwt}`, 'Auth');
    logger.error('failed', 'Error: boom\n    at x', 'Filter');
    const [warn, error] = lines.map((l) => JSON.parse(l));
    expect(warn).toMatchObject({ level: 40, context: 'Auth' });
    expect(warn.msg).not.toContain(jwt);
    expect(error).toMatchObject({ level: 50, context: 'Filter', msg: 'failed' });
    expect(error.stack).toContain('boom');
  });
});
