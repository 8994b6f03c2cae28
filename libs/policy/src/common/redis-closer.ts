import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { closeRedisClient, type PolicyRedisClient } from './redis-client.factory';
import { POLICY_REDIS } from '../policy.constants';

/** Closes the shared Redis client when the app shuts down. */
@Injectable()
export class RedisCloser implements OnApplicationShutdown {
  constructor(@Inject(POLICY_REDIS) private readonly redis: PolicyRedisClient | null) {}

  async onApplicationShutdown(): Promise<void> {
    if (this.redis) await closeRedisClient(this.redis);
  }
}
