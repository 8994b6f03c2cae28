import { Catch, HttpException, HttpStatus, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { PolicyErrorBody, PolicyErrorCode } from '../policy.exceptions';

const CODE_BY_STATUS: Record<number, PolicyErrorCode> = {
  400: 'validation_failed',
  401: 'unauthenticated',
  402: 'budget_exceeded',
  403: 'forbidden',
  404: 'not_found',
  405: 'not_found',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  422: 'validation_failed',
  431: 'headers_too_large',
  429: 'rate_limited',
  503: 'unavailable',
};

const MESSAGE_BY_CODE: Record<PolicyErrorCode, string> = {
  validation_failed: 'Request validation failed',
  unauthenticated: 'Authentication required',
  invalid_token: 'The credentials are invalid',
  budget_exceeded: 'Budget exceeded',
  forbidden: 'Not allowed',
  insufficient_scope: 'Missing required scope',
  approval_required: 'This operation requires approval',
  not_found: 'Not found',
  payload_too_large: 'Request body is too large',
  unsupported_media_type: 'Only application/json bodies are accepted',
  headers_too_large: 'Request headers are too large',
  rate_limited: 'Too many requests',
  unavailable: 'Service unavailable',
  tool_timeout: 'The tool did not finish in time',
  tool_failed: 'The tool failed',
  internal_error: 'Internal server error',
};

interface ErrorWithStatus {
  status?: number;
  statusCode?: number;
  headers?: Record<string, string>;
}

/**
 * The one exception filter: every error leaves as `{ statusCode, code, message }` (plus documented extras such as
 * `approvalId`). Library exceptions carry their body and headers; other errors are mapped by status with a fixed
 * message, so nothing from the request (headers, tokens, body) is ever echoed. Unknown errors are 500s with no detail.
 */
@Catch()
export class PolicyExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('PolicyExceptionFilter');

  constructor(private readonly adapterHost: HttpAdapterHost) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') throw exception;
    const res = host.switchToHttp().getResponse<unknown>();
    const { body, headers } = this.toResponse(exception);
    const adapter = this.adapterHost.httpAdapter;
    for (const [name, value] of Object.entries(headers)) adapter.setHeader(res, name, value);
    adapter.reply(res, body, body.statusCode);
  }

  /** Maps any thrown value to the response body and headers. Override to add mappings. */
  protected toResponse(exception: unknown): { body: PolicyErrorBody; headers: Record<string, string> } {
    const headers = { ...((exception as ErrorWithStatus | null)?.headers ?? {}) };
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const response = exception.getResponse();
      if (typeof response === 'object' && response !== null && typeof (response as PolicyErrorBody).code === 'string') {
        return { body: response as PolicyErrorBody, headers };
      }
      return { body: this.generic(status, response), headers: this.defaultHeaders(status, headers) };
    }
    const status = (exception as ErrorWithStatus | null)?.statusCode ?? (exception as ErrorWithStatus | null)?.status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      // Body parser errors (bad JSON, too large, bad content type) of Express and Fastify.
      return { body: this.generic(status, undefined), headers: {} };
    }
    this.logger.error(exception instanceof Error ? (exception.stack ?? exception.message) : String(exception));
    return { body: this.generic(HttpStatus.INTERNAL_SERVER_ERROR, undefined), headers: {} };
  }

  private generic(status: number, response: unknown): PolicyErrorBody {
    const code: PolicyErrorCode = CODE_BY_STATUS[status] ?? (status >= 500 ? 'internal_error' : 'validation_failed');
    const body: PolicyErrorBody = { statusCode: status, code, message: MESSAGE_BY_CODE[code] };
    // Validation messages from class-validator name fields and rules, never values: safe to pass on.
    const messages = (response as { message?: unknown } | undefined)?.message;
    if (code === 'validation_failed' && Array.isArray(messages))
      body.details = messages.filter((m) => typeof m === 'string');
    return body;
  }

  private defaultHeaders(status: number, headers: Record<string, string>): Record<string, string> {
    if (status === 401 && !headers['WWW-Authenticate']) return { ...headers, 'WWW-Authenticate': 'Bearer' };
    return headers;
  }
}
