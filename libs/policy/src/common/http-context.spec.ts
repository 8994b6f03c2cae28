import type { ExecutionContext } from '@nestjs/common';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host';
import { httpRequest, httpResponse } from './http-context';

describe('httpRequest / httpResponse', () => {
  const req = { headers: {}, method: 'GET', url: '/' };
  const res = { setHeader: () => undefined };

  it("read Nest's execution context's arguments, the same objects switchToHttp() answers", () => {
    const context = new ExecutionContextHost([req, res, () => undefined]);
    expect(httpRequest(context)).toBe(req);
    expect(httpResponse(context)).toBe(res);
    expect(httpRequest(context)).toBe(context.switchToHttp().getRequest());
    expect(httpResponse(context)).toBe(context.switchToHttp().getResponse());
  });

  it('ask switchToHttp() of a context without arguments to read, or of another type', () => {
    const bare = { getType: () => 'http', switchToHttp: () => ({ getRequest: () => req, getResponse: () => res }) };
    expect(httpRequest(bare as unknown as ExecutionContext)).toBe(req);
    expect(httpResponse(bare as unknown as ExecutionContext)).toBe(res);
    const rpc = new ExecutionContextHost([{ data: 1 }, {}]);
    rpc.setType('rpc');
    const other = { headers: {}, method: 'POST', url: '/x' };
    jest.spyOn(rpc, 'switchToHttp').mockReturnValue({
      getRequest: () => other,
      getResponse: () => res,
      getNext: () => undefined,
    } as never);
    expect(httpRequest(rpc)).toBe(other);
  });
});
