import { Controller, Get, HttpException, Inject } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { SkipThrottle } from '@nestjs/throttler';
import { DataSource } from 'typeorm';
import { POLICY_REDIS, Public, redisReady, type PolicyRedisClient } from 'nest-agent-policy';

@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    private readonly dataSource: DataSource,
    @Inject(POLICY_REDIS) private readonly redis: PolicyRedisClient | null,
  ) {}

  /**
   * Liveness and readiness: the database answers, and Redis when configured (on a Redis Cluster: every master answers
   * and the cluster state is ok). Never rate-limited.
   */
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
}
