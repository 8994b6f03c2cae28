import { applyDecorators } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiSecurity } from '@nestjs/swagger';
import { RequireOperation, RequireScopes } from 'nest-agent-policy';

/**
 * Requires an operation and scopes, and shows both in the OpenAPI document (/docs), so what each route requires is
 * visible where it is documented.
 */
export function Guarded(operation: string, ...scopes: string[]): MethodDecorator {
  return applyDecorators(
    RequireOperation(operation),
    RequireScopes(...scopes),
    ApiOperation({
      summary: `${operation} (scopes: ${scopes.join(', ')})`,
      description: `Requires operation \`${operation}\` and scope${scopes.length > 1 ? 's' : ''} ${scopes.map((s) => `\`${s}\``).join(', ')}.`,
      operationId: operation,
    }),
    ApiBearerAuth(),
    ApiSecurity('api-key'),
  );
}
