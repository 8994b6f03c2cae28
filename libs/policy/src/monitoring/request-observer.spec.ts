import type { INestApplication } from '@nestjs/common';
import { observeRequests, reportAnsweredRequest, type FinishedRequest } from './request-observer';

/** An app on a stand-in Express instance: enough for the observers' registry, no server. */
function expressApp(): INestApplication {
  const instance = { use: () => undefined };
  const adapter = { getType: () => 'express', getInstance: () => instance };
  return { getHttpAdapter: () => adapter } as unknown as INestApplication;
}

describe('reportAnsweredRequest', () => {
  it('tells every observer of the app, with a synthetic request holding a known method only', () => {
    const app = expressApp();
    const seen: FinishedRequest[] = [];
    const alsoSeen: FinishedRequest[] = [];
    observeRequests(app, (request) => seen.push(request));
    observeRequests(app, (request) => alsoSeen.push(request));

    reportAnsweredRequest(app, { status: 400, method: 'GET' });
    reportAnsweredRequest(app, { status: 431, latencyMs: 2 });
    reportAnsweredRequest(app, { status: 400, method: 'GET /secret HTTP/1.1' });

    expect(seen).toEqual([
      { req: { method: 'GET' }, route: null, status: 400, latencyMs: 0 },
      { req: {}, route: null, status: 431, latencyMs: 2 },
      { req: {}, route: null, status: 400, latencyMs: 0 },
    ]);
    expect(alsoSeen).toEqual(seen);
  });

  it('does nothing for an app without observers', () => {
    const observed = expressApp();
    const seen: FinishedRequest[] = [];
    observeRequests(observed, (request) => seen.push(request));
    expect(() => reportAnsweredRequest(expressApp(), { status: 400 })).not.toThrow();
    expect(seen).toEqual([]);
  });
});
