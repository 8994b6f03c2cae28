/** A small app with test tools (slow, failing, capped, echoing), used exactly as a user would use the library. */
import {
  Body,
  Controller,
  Headers,
  HttpCode,
  Injectable,
  Module,
  Param,
  Post,
  type DynamicModule,
  type Provider,
} from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import {
  AgentTool,
  CurrentPrincipal,
  POLICY_ENTITIES,
  POLICY_MIGRATIONS,
  PolicyModule,
  RequireOperation,
  RequireScopes,
  ToolExecutor,
  type PolicyModuleOptions,
  type Principal,
  type ToolCallContext,
} from 'nest-agent-policy';

export const SECRET = 'tools-test-secret-0123456789abcdefghijklmnop';

export const TOOLS_OPTIONS: PolicyModuleOptions = {
  mode: 'production',
  jwt: { secret: SECRET },
  roles: {
    caller: { operations: ['tool.*'], tools: ['*'] },
    limited: { operations: ['tool.invoke'], tools: ['echo_*'] },
    admin: { operations: ['*'], tools: ['*'] },
  },
  scopes: { 'tools:write': { implies: ['tools:read'] } },
  rateLimits: { tools: { echo_text: { limit: 3, ttl: 60 } } },
};

/** What the tools received, for the assertions. */
export const received: unknown[] = [];

@Injectable()
export class TestTools {
  @AgentTool({
    name: 'echo_text',
    description: 'Echoes its arguments',
    input: {
      type: 'object',
      properties: {
        text: { type: 'string', maxLength: 1000, 'x-sanitize': 'text' },
        html: { type: 'string', maxLength: 1000, 'x-sanitize': 'html' },
        nested: { type: 'object', properties: { note: { type: 'string', 'x-sanitize': 'text' } } },
        secret: { type: 'string' },
      },
    },
    sensitive: ['secret'],
  })
  echo(args: Record<string, unknown>) {
    received.push(args);
    return args;
  }

  @AgentTool({ name: 'slow', description: 'Never finishes in time', input: { type: 'object' }, timeoutMs: 150 })
  slow(_args: unknown, ctx: ToolCallContext) {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve('late'), 5000);
      ctx.signal.addEventListener('abort', () => clearTimeout(timer));
    });
  }

  @AgentTool({ name: 'explode', description: 'Throws', input: { type: 'object' } })
  explode(): never {
    const error = new Error('db password=hunter2 at /srv/secret/path');
    throw error;
  }

  @AgentTool({
    name: 'hold',
    description: 'Takes a while',
    input: { type: 'object' },
    maxConcurrent: 2,
    timeoutMs: 5000,
  })
  async hold() {
    await new Promise((r) => setTimeout(r, 300));
    return { done: true };
  }

  @AgentTool({ name: 'priced', description: 'Costs money', input: { type: 'object' }, cost: { usd: 1 } })
  priced() {
    return { ok: true };
  }
}

@Controller('tools')
export class TestToolsController {
  constructor(private readonly tools: ToolExecutor) {}

  @Post(':name')
  @HttpCode(200)
  @RequireOperation('tool.invoke')
  @RequireScopes('tools:write')
  invoke(
    @Param('name') name: string,
    @CurrentPrincipal() principal: Principal,
    @Headers('x-approval-id') approvalId: string | undefined,
    @Body() body: { args?: unknown },
  ) {
    return this.tools.invoke(principal, name, body?.args ?? {}, { approvalId });
  }
}

export const database = () =>
  TypeOrmModule.forRoot({
    type: 'better-sqlite3',
    database: ':memory:',
    entities: [...POLICY_ENTITIES],
    migrations: [...POLICY_MIGRATIONS],
    migrationsRun: true,
  });

@Module({})
export class ToolsTestAppModule {
  static with(options: PolicyModuleOptions = TOOLS_OPTIONS, providers: Provider[] = [TestTools]): DynamicModule {
    return {
      module: ToolsTestAppModule,
      imports: [database(), PolicyModule.forRoot(options)],
      controllers: [TestToolsController],
      providers,
    };
  }
}
