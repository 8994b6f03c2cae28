import { Module, type DynamicModule } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { PolicyModule, type PolicyModuleOptions } from 'nest-agent-policy';
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
import { EchoModel } from './model/echo.model';
import { ECHO_TOKEN_DELAY_MS } from './model/echo.stream';
import { RUN_LIMITS, RunRunner } from './runs/run.runner';
import { NoToolsExecutor, RUN_TOOL_EXECUTOR } from './runs/run-tools';
import { RunsController } from './runs/runs.controller';
import { RunsService } from './runs/runs.service';
import { RevocationsController } from './revocations/revocations.controller';
import { EventsService } from './sessions/events.service';
import { SessionsController } from './sessions/sessions.controller';
import { SessionsService } from './sessions/sessions.service';

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
          useFactory: () => dataSourceOptions(config.database),
          dataSourceFactory: () => openDatabase(config.database),
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
        RunsController,
        ConsoleController,
      ],
      providers: [
        AgentsService,
        CustomersService,
        SessionsService,
        EventsService,
        EchoModel,
        { provide: ECHO_TOKEN_DELAY_MS, useValue: config.echoTokenDelayMs },
        RunsService,
        RunRunner,
        { provide: RUN_LIMITS, useValue: config.policy.runs ?? {} },
        { provide: RUN_TOOL_EXECUTOR, useClass: NoToolsExecutor },
      ],
    };
  }
}
