import { SetMetadata } from '@nestjs/common';
import { IS_PUBLIC_KEY } from '../policy.constants';

/**
 * Opens a route to anonymous callers (still rate-limited per client IP).
 * @example @Public() @Get('health') health() {}
 */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(IS_PUBLIC_KEY, true);
