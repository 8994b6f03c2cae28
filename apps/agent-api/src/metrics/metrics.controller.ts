import { Controller, Get, Header } from '@nestjs/common';
import { ApiProduces, ApiTags } from '@nestjs/swagger';
import { AgentOperation, PolicyMetrics } from 'nest-agent-policy';
import { Guarded } from '../common/guarded.decorator';

@ApiTags('metrics')
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: PolicyMetrics) {}

  /** Prometheus text format. On this port it needs `metrics.read`; `METRICS_PORT` serves it without credentials. */
  @Get()
  @Guarded(AgentOperation.MetricsRead, 'metrics:read')
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  @ApiProduces('text/plain')
  scrape(): Promise<string> {
    return this.metrics.metrics();
  }
}
