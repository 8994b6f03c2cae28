import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { IS_PUBLIC_KEY, REQUIRE_OPERATION_KEY } from '../policy.constants';

const ROUTE_METHOD = 'method';
const ROUTE_PATH = 'path';

/** At boot, names every route that has neither `@RequireOperation` nor `@Public`: those are always denied. */
@Injectable()
export class RouteInspector implements OnApplicationBootstrap {
  private readonly logger = new Logger('PolicyRoutes');
  /** Routes found without a policy, as `Controller.method`. */
  readonly unguarded: string[] = [];

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
  ) {}

  onApplicationBootstrap(): void {
    for (const wrapper of this.discovery.getControllers()) {
      const instance = wrapper.instance as Record<string, unknown> | undefined;
      if (!instance || !wrapper.metatype) continue;
      const proto = Object.getPrototypeOf(instance) as object;
      for (const name of this.scanner.getAllMethodNames(proto)) {
        const handler = (proto as Record<string, unknown>)[name] as () => unknown;
        if (
          Reflect.getMetadata(ROUTE_PATH, handler) === undefined ||
          Reflect.getMetadata(ROUTE_METHOD, handler) === undefined
        )
          continue;
        const targets = [handler, wrapper.metatype as () => unknown];
        const covered =
          this.reflector.getAllAndOverride<boolean | undefined>(IS_PUBLIC_KEY, targets) ||
          this.reflector.getAllAndOverride<unknown>(REQUIRE_OPERATION_KEY, targets);
        if (!covered) this.unguarded.push(`${wrapper.metatype.name}.${name}`);
      }
    }
    if (this.unguarded.length > 0) {
      this.logger.warn(`Routes without @RequireOperation or @Public are always denied: ${this.unguarded.join(', ')}`);
    }
  }
}
