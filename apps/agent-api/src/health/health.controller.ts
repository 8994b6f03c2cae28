import { Controller, Get, HttpException, Inject } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { SkipThrottle } from '@nestjs/throttler';
import { DataSource } from 'typeorm';
import { POLICY_REDIS, Public, redisReady, type PolicyRedisClient } from 'nest-agent-policy';

type CheckState = 'up' | 'down' | 'disabled';

/** How long a readiness check may take before its dependency counts as down. */
const READY_TIMEOUT_MS = 1500;

function within<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timeout')), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    private readonly dataSource: DataSource,
    @Inject(POLICY_REDIS) private readonly redis: PolicyRedisClient | null,
  ) {}

  /** Liveness: the process answers, the database too, and Redis when configured. Never rate-limited. */
  @Get()
  @Public()
  @SkipThrottle()
  async health() {
    const database = await this.dataSource.query('SELECT 1').then(() => 'up', () => 'down');
    const redis = this.redis ? ((await redisReady(this.redis)) ? 'up' : 'down') : 'disabled';
    const body = { status: database === 'up' && redis !== 'down' ? 'ok' : 'degraded', database, redis };
    if (body.status !== 'ok') throw new HttpException({ statusCode: 503, code: 'unavailable', message: 'Service unavailable', ...body }, 503);
    return body;
  }

  /**
   * Readiness: the database and, when configured, Redis each answer within 1.5 s. Otherwise 503 `unavailable`
   * naming the ones that are down, so a load balancer takes this instance out until they are back.
   */
  @Get('ready')
  @Public()
  @SkipThrottle()
  async ready() {
    const [database, redis] = await Promise.all([
      within(this.dataSource.query('SELECT 1'), READY_TIMEOUT_MS).then((): CheckState => 'up', (): CheckState => 'down'),
      this.redis
        ? // On a Redis Cluster: every master answers and the cluster state is ok.
          within(redisReady(this.redis), READY_TIMEOUT_MS).then((ok): CheckState => (ok ? 'up' : 'down'), (): CheckState => 'down')
        : Promise.resolve<CheckState>('disabled'),
    ]);
    const checks = { database, redis };
    const down = Object.entries(checks).filter(([, state]) => state === 'down').map(([name]) => name);
    if (down.length > 0) {
      throw new HttpException({ statusCode: 503, code: 'unavailable', message: `Not ready: ${down.join(' and ')} ${down.length > 1 ? 'are' : 'is'} down`, down, checks }, 503);
    }
    return { status: 'ready', checks };
  }
}
