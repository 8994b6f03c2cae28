import { Module, type DynamicModule } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { MissingDataKeyError, PolicyModule, type PolicyModuleOptions } from 'nest-agent-policy';
import { AgentsController } from './agents/agents.controller';
import { AgentsService } from './agents/agents.service';
import { ApiKeysController } from './api-keys/api-keys.controller';
import { ApprovalsController } from './approvals/approvals.controller';
import { AuditController } from './audit/audit.controller';
import { BudgetsController } from './budgets/budgets.controller';
import type { AgentApiConfig } from './config/agent-api.config';
import { ConsoleController } from './console/console.controller';
import { CustomersController } from './customers/customers.controller';
import { CustomersService } from './customers/customers.service';
import { dataSourceOptions, openDatabase } from './database/data-source';
import { APP_ENTITIES } from './database/entities';
import { HealthController } from './health/health.controller';
import { MetricsController } from './metrics/metrics.controller';
import { METRICS_LISTENER_OPTIONS, MetricsListener } from './metrics/metrics.listener';
import { EchoModel } from './model/echo.model';
import { ECHO_TOKEN_DELAY_MS } from './model/echo.stream';
import { RUN_LIMITS, RunRunner } from './runs/run.runner';
import { PolicyRunToolExecutor, RUN_TOOL_EXECUTOR } from './runs/run-tools';
import { RunsController } from './runs/runs.controller';
import { RunsService } from './runs/runs.service';
import { RevocationsController } from './revocations/revocations.controller';
import { EventsService } from './sessions/events.service';
import { SessionsController } from './sessions/sessions.controller';
import { SessionsService } from './sessions/sessions.service';
import { CustomerInfoTool } from './tools/customer-info.tool';
import { KnowledgeBaseTool } from './tools/knowledge-base.tool';
import { NotificationsTool } from './tools/notifications.tool';
import { RunJsTool } from './tools/run-js.tool';
import { TicketsTool } from './tools/tickets.tool';
import { ToolsController } from './tools/tools.controller';

/** The policy options the app derives from its configuration. */
export function policyOptions(config: AgentApiConfig): PolicyModuleOptions {
  return {
    ...config.policy,
    mode: config.production ? 'production' : 'development',
    jwt: config.jwt,
    trustProxy: config.trustProxy,
    redisUrl: config.redisUrl,
  };
}

/** The agent platform: agents, customers, sessions, events, API keys and revocations behind `nest-agent-policy`. */
@Module({})
export class AgentApiModule {
  static forRoot(config: AgentApiConfig): DynamicModule {
    return {
      module: AgentApiModule,
      imports: [
        TypeOrmModule.forRootAsync({
          // A missing data key is a configuration error: fail the boot at once instead of retrying.
          useFactory: () => ({
            ...dataSourceOptions(config.database),
            toRetry: (err: unknown) => !(err instanceof MissingDataKeyError),
          }),
          dataSourceFactory: () => openDatabase(config.database, config.dataKeys),
        }),
        TypeOrmModule.forFeature(APP_ENTITIES),
        PolicyModule.forRoot(policyOptions(config)),
      ],
      controllers: [
        HealthController,
        AgentsController,
        CustomersController,
        SessionsController,
        ApiKeysController,
        RevocationsController,
        AuditController,
        ApprovalsController,
        BudgetsController,
        ToolsController,
        RunsController,
        ConsoleController,
        MetricsController,
      ],
      providers: [
        { provide: METRICS_LISTENER_OPTIONS, useValue: { port: config.metricsPort, host: '0.0.0.0' } },
        MetricsListener,
        AgentsService,
        CustomersService,
        SessionsService,
        EventsService,
        EchoModel,
        KnowledgeBaseTool,
        TicketsTool,
        CustomerInfoTool,
        NotificationsTool,
        RunJsTool,
        { provide: ECHO_TOKEN_DELAY_MS, useValue: config.echoTokenDelayMs },
        RunsService,
        RunRunner,
        { provide: RUN_LIMITS, useValue: config.policy.runs ?? {} },
        { provide: RUN_TOOL_EXECUTOR, useClass: PolicyRunToolExecutor },
      ],
    };
  }
}
