import { Body, Controller, Get, HttpCode, Param, Post, Query, StreamableFile } from '@nestjs/common';
import { ApiResponse, ApiTags } from '@nestjs/swagger';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  AgentOperation,
  CurrentPrincipal,
  RecordScope,
  type Principal,
  type RecordScopeFilter,
} from 'nest-agent-policy';
import { Guarded } from '../common/guarded.decorator';
import { PageQuery, ParseId } from '../common/pagination';
import { EventsService } from '../sessions/events.service';
import { CreateRunDto } from './run.dto';
import { RunsService, runView, type RunView } from './runs.service';

/** How often the events feed of a run looks for new steps (ms). */
const FEED_POLL_MS = 100;

const sse = (event: string, data: unknown): string => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

@ApiTags('runs')
@Controller()
export class RunsController {
  constructor(
    private readonly runs: RunsService,
    private readonly events: EventsService,
  ) {}

  /** Starts a run of the session's agent: its steps go through echo-1 under the run guards and the budgets. */
  @Post('sessions/:id/runs')
  @HttpCode(202)
  @Guarded(AgentOperation.RunCreate, 'runs:write')
  @ApiResponse({
    status: 202,
    description: '`{ id, status }`: the run started; follow it with GET /runs/:id or /runs/:id/events.',
  })
  async create(
    @Param('id', ParseId) sessionId: string,
    @CurrentPrincipal() principal: Principal,
    @RecordScope() scope: RecordScopeFilter,
    @Body() dto: CreateRunDto,
  ): Promise<{ id: string; status: string }> {
    const session = await this.events.session(sessionId, scope);
    const run = await this.runs.create(principal, session, dto);
    return { id: run.id, status: run.status };
  }

  @Get('runs')
  @Guarded(AgentOperation.RunList, 'runs:read')
  async list(@RecordScope() scope: RecordScopeFilter, @Query() page: PageQuery) {
    const result = await this.runs.list(scope, page);
    return { ...result, items: result.items.map(runView) };
  }

  @Get('runs/:id')
  @Guarded(AgentOperation.RunRead, 'runs:read')
  async get(@Param('id', ParseId) id: string, @RecordScope() scope: RecordScopeFilter): Promise<RunView> {
    return runView(await this.runs.get(id, scope));
  }

  /** Server-Sent Events: a `step` event per step (those already taken first), `status` changes, then `end`. */
  @Get('runs/:id/events')
  @Guarded(AgentOperation.RunRead, 'runs:read')
  async feed(@Param('id', ParseId) id: string, @RecordScope() scope: RecordScopeFilter): Promise<StreamableFile> {
    await this.runs.get(id, scope);
    const runs = this.runs;
    async function* feed(): AsyncGenerator<string> {
      let sent = 0;
      let status = '';
      for (;;) {
        const run = await runs.get(id, scope);
        for (; sent < run.steps.length; sent++) yield sse('step', run.steps[sent]);
        if (run.status !== status) {
          status = run.status;
          yield sse('status', { status: run.status, stopReason: run.stopReason, approvalId: run.approvalId });
        }
        if (run.status !== 'running' && run.status !== 'awaiting_approval') {
          yield sse('end', runView(run));
          return;
        }
        await sleep(FEED_POLL_MS);
      }
    }
    return new StreamableFile(Readable.from(feed(), { objectMode: false, highWaterMark: 1 }), {
      type: 'text/event-stream; charset=utf-8',
    });
  }

  /** Cancels a live run: it stops after its current step, its usage settled. */
  @Post('runs/:id/cancel')
  @HttpCode(200)
  @Guarded(AgentOperation.RunCancel, 'runs:write')
  async cancel(@Param('id', ParseId) id: string, @RecordScope() scope: RecordScopeFilter): Promise<RunView> {
    return runView(await this.runs.cancel(id, scope));
  }
}
