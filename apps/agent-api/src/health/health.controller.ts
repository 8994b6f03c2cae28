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

/** How long one liveness check answers the probes that follow it. */
export const LIVENESS_REUSE_MS = 250;

interface Liveness {
  status: 'ok' | 'degraded';
  database: 'up' | 'down';
  redis: CheckState;
}

@ApiTags('health')
@Controller('health')
export class HealthController {
  /** The check in flight, or the last one while it is younger than LIVENESS_REUSE_MS. */
  private liveness: { at: number; check: Promise<Liveness> } | null = null;

  constructor(
    private readonly dataSource: DataSource,
    @Inject(POLICY_REDIS) private readonly redis: PolicyRedisClient | null,
  ) {}

  /**
   * Liveness: the process answers, the database too, and Redis when configured. Never rate-limited. Probes that
   * arrive while a check runs, or within 250 ms of its start, share its answer: a load balancer probing many times
   * a second costs one database query per 250 ms, and a dependency that goes down shows within 250 ms.
   */
  @Get()
  @Public()
  @SkipThrottle()
  async health() {
    const now = performance.now();
    if (!this.liveness || now - this.liveness.at >= LIVENESS_REUSE_MS)
      this.liveness = { at: now, check: this.checkLiveness() };
    const body = await this.liveness.check;
    if (body.status !== 'ok')
      throw new HttpException({ statusCode: 503, code: 'unavailable', message: 'Service unavailable', ...body }, 503);
    return body;
  }

  /** Each dependency answers within {@link READY_TIMEOUT_MS} or counts as down: a hung one never hangs the probe. */
  private async checkLiveness(): Promise<Liveness> {
    const database = await within(this.dataSource.query('SELECT 1'), READY_TIMEOUT_MS).then(
      (): 'up' => 'up',
      (): 'down' => 'down',
    );
    const redis: CheckState = this.redis
      ? await within(redisReady(this.redis), READY_TIMEOUT_MS).then(
          (ok): CheckState => (ok ? 'up' : 'down'),
          (): CheckState => 'down',
        )
      : 'disabled';
    return { status: database === 'up' && redis !== 'down' ? 'ok' : 'degraded', database, redis };
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
      within(this.dataSource.query('SELECT 1'), READY_TIMEOUT_MS).then(
        (): CheckState => 'up',
        (): CheckState => 'down',
      ),
      this.redis
        ? // On a Redis Cluster: every master answers and the cluster state is ok.
          within(redisReady(this.redis), READY_TIMEOUT_MS).then(
            (ok): CheckState => (ok ? 'up' : 'down'),
            (): CheckState => 'down',
          )
        : Promise.resolve<CheckState>('disabled'),
    ]);
    const checks = { database, redis };
    const down = Object.entries(checks)
      .filter(([, state]) => state === 'down')
      .map(([name]) => name);
    if (down.length > 0) {
      throw new HttpException(
        {
          statusCode: 503,
          code: 'unavailable',
          message: `Not ready: ${down.join(' and ')} ${down.length > 1 ? 'are' : 'is'} down`,
          down,
          checks,
        },
        503,
      );
    }
    return { status: 'ready', checks };
  }
}
