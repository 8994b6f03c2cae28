import {
  ForbiddenException,
  HttpException,
  HttpStatus,
  BadGatewayException,
  GatewayTimeoutException,
  NotFoundException,
  PayloadTooLargeException,
  ServiceUnavailableException,
  UnauthorizedException,
  BadRequestException,
} from '@nestjs/common';

/** Error codes of the library, one per row of the error table. */
export type PolicyErrorCode =
  | 'validation_failed'
  | 'unauthenticated'
  | 'invalid_token'
  | 'budget_exceeded'
  | 'forbidden'
  | 'insufficient_scope'
  | 'approval_required'
  | 'not_found'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'headers_too_large'
  | 'rate_limited'
  | 'unavailable'
  | 'tool_timeout'
  | 'tool_failed'
  | 'internal_error';

/** The JSON body every error response has. Extra fields (e.g. `approvalId`) ride along. */
export interface PolicyErrorBody {
  statusCode: number;
  code: PolicyErrorCode;
  message: string;
  [extra: string]: unknown;
}

/** Response headers an exception wants set (e.g. `WWW-Authenticate`, `Retry-After`). */
export interface PolicyExceptionHeaders {
  readonly headers: Record<string, string>;
}

function body(
  statusCode: number,
  code: PolicyErrorCode,
  message: string,
  extra: Record<string, unknown> = {},
): PolicyErrorBody {
  return { statusCode, code, message, ...extra };
}

/** 400 `validation_failed`: a bad body, query or path parameter. */
export class ValidationFailedException extends BadRequestException {
  constructor(message = 'Request validation failed', details?: string[]) {
    super(body(HttpStatus.BAD_REQUEST, 'validation_failed', message, details ? { details } : {}));
  }
}

/** 401 `unauthenticated`: no credentials were sent. */
export class UnauthenticatedException extends UnauthorizedException implements PolicyExceptionHeaders {
  readonly headers = { 'WWW-Authenticate': 'Bearer' };
  constructor(message = 'Authentication required') {
    super(body(HttpStatus.UNAUTHORIZED, 'unauthenticated', message));
  }
}

/** 401 `invalid_token`: bad, expired, revoked or deleted credentials (JWT or API key). */
export class InvalidTokenException extends UnauthorizedException implements PolicyExceptionHeaders {
  readonly headers = { 'WWW-Authenticate': 'Bearer error="invalid_token"' };
  constructor(message = 'The credentials are invalid') {
    super(body(HttpStatus.UNAUTHORIZED, 'invalid_token', message));
  }
}

/** 402 `budget_exceeded`: a budget would be exceeded; the body names scope, period and reset time. */
export class BudgetExceededException extends HttpException {
  constructor(details: { scope: string; period: string; unit: string; resetAt: string }, message = 'Budget exceeded') {
    super(body(HttpStatus.PAYMENT_REQUIRED, 'budget_exceeded', message, details), HttpStatus.PAYMENT_REQUIRED);
  }
}

/** 403 `forbidden`: the caller's roles (or a tenant rule) do not allow the operation. */
export class PolicyForbiddenException extends ForbiddenException {
  constructor(message = 'Not allowed', extra: Record<string, unknown> = {}) {
    super(body(HttpStatus.FORBIDDEN, 'forbidden', message, extra));
  }
}

/**
 * 403 `forbidden` with `reason: 'anomaly'`: the principal (or, for failed authentication, the client IP) is refused
 * for `alerts.blockSeconds` after an anomaly; `Retry-After` says for how long.
 */
export class AnomalyBlockedException extends ForbiddenException implements PolicyExceptionHeaders {
  readonly headers: Record<string, string>;
  constructor(retryAfterSeconds: number, message = 'Refused after anomalous activity') {
    super(body(HttpStatus.FORBIDDEN, 'forbidden', message, { reason: 'anomaly' }));
    this.headers = { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterSeconds))) };
  }
}

/** 403 `insufficient_scope`: the token lacks a required OAuth2 scope. */
export class InsufficientScopeException extends ForbiddenException implements PolicyExceptionHeaders {
  readonly headers: Record<string, string>;
  constructor(requiredScopes: readonly string[]) {
    super(body(HttpStatus.FORBIDDEN, 'insufficient_scope', `Missing required scope: ${requiredScopes.join(' ')}`));
    this.headers = {
      'WWW-Authenticate': `Bearer error="insufficient_scope", scope="${requiredScopes.join(' ')}"`,
    };
  }
}

/** 403 `approval_required`: a human must approve this call; retry with `X-Approval-Id`. */
export class ApprovalRequiredException extends ForbiddenException {
  constructor(approvalId: string, expiresAt: string, message = 'This operation requires approval') {
    super(body(HttpStatus.FORBIDDEN, 'approval_required', message, { approvalId, expiresAt }));
  }
}

/** 404 `not_found`: missing, another tenant's, or another owner's record. */
export class PolicyNotFoundException extends NotFoundException {
  constructor(message = 'Not found') {
    super(body(HttpStatus.NOT_FOUND, 'not_found', message));
  }
}

/** 413 `payload_too_large`. */
export class PolicyPayloadTooLargeException extends PayloadTooLargeException {
  constructor(message = 'Request body is too large') {
    super(body(HttpStatus.PAYLOAD_TOO_LARGE, 'payload_too_large', message));
  }
}

/** 429 `rate_limited`, with `Retry-After` in seconds. */
export class RateLimitedException extends HttpException implements PolicyExceptionHeaders {
  readonly headers: Record<string, string>;
  constructor(retryAfterSeconds: number, message = 'Too many requests') {
    super(body(HttpStatus.TOO_MANY_REQUESTS, 'rate_limited', message), HttpStatus.TOO_MANY_REQUESTS);
    this.headers = { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterSeconds))) };
  }
}

/** 503 `unavailable`: a store the decision needs is down and the mode is fail-closed. */
export class PolicyUnavailableException extends ServiceUnavailableException {
  constructor(message = 'A policy store is unavailable') {
    super(body(HttpStatus.SERVICE_UNAVAILABLE, 'unavailable', message));
  }
}

/** 504 `tool_timeout`: a tool did not finish within its `timeoutMs`. */
export class ToolTimeoutException extends GatewayTimeoutException {
  constructor(message = 'The tool did not finish in time') {
    super(body(HttpStatus.GATEWAY_TIMEOUT, 'tool_timeout', message));
  }
}

/** 502 `tool_failed`: a tool threw; its own message and stack are never sent. */
export class ToolFailedException extends BadGatewayException {
  constructor(message = 'The tool failed') {
    super(body(HttpStatus.BAD_GATEWAY, 'tool_failed', message));
  }
}
