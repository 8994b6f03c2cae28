import { SetMetadata } from '@nestjs/common';
import { REQUIRE_OPERATION_KEY } from '../policy.constants';

/**
 * Names the operation a route (or every route of a controller) performs; the `AuthorizationGuard` decides it.
 * A route without it and without `@Public()` is denied.
 * @example @RequireOperation(AgentOperation.AgentRead) @Get(':id') findOne() {}
 */
export const RequireOperation = (operation: string): MethodDecorator & ClassDecorator =>
  SetMetadata(REQUIRE_OPERATION_KEY, operation);
