import { SetMetadata } from '@nestjs/common';
import { REQUIRE_SCOPES_KEY } from '../policy.constants';

/**
 * OAuth2 scopes the caller's token must hold, every one of them (403 `insufficient_scope` otherwise).
 * @example @RequireScopes('agents:write') @Post() create() {}
 */
export const RequireScopes = (...scopes: string[]): MethodDecorator & ClassDecorator =>
  SetMetadata(REQUIRE_SCOPES_KEY, scopes);
