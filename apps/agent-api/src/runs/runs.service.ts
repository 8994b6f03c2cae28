import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { In, type Repository } from 'typeorm';
import { ValidationFailedException, type Principal, type RecordScopeFilter } from 'nest-agent-policy';
import { paginate, type Page, type PageQuery } from '../common/pagination';
import { findScoped, scopedQuery } from '../common/scoped-records';
import { RunEntity, type SessionEntity } from '../database/entities';
import { parseRepeat, type CreateRunDto } from './run.dto';
import { RunRunner, type RunScript } from './run.runner';

/** A run as the API shows it. */
export interface RunView {
  id: string;
  sessionId: string;
  status: RunEntity['status'];
  stopReason: string | null;
  approvalId: string | null;
  steps: unknown[];
  toolCalls: unknown[];
  usage: { inputTokens: number; outputTokens: number; cost: number };
  createdAt: string;
  updatedAt: string;
}

export function runView(run: RunEntity): RunView {
  return {
    id: run.id,
    sessionId: run.sessionId,
    status: run.status,
    stopReason: run.stopReason,
    approvalId: run.approvalId,
    steps: run.steps,
    toolCalls: run.toolCalls,
    usage: run.usage,
    createdAt: new Date(run.createdAt).toISOString(),
    updatedAt: new Date(run.updatedAt).toISOString(),
  };
}

/** Agent runs: stored like sessions (tenant and owner scoped), run by the {@link RunRunner}. */
@Injectable()
export class RunsService {
  constructor(
    @InjectRepository(RunEntity) private readonly runs: Repository<RunEntity>,
    private readonly runner: RunRunner,
  ) {}

  /** Stores a run of the session and starts it. @throws ValidationFailedException for a bad `repeat`. */
  async create(principal: Principal, session: SessionEntity, dto: CreateRunDto): Promise<RunEntity> {
    const repeat = parseRepeat(dto.repeat);
    if (repeat === null)
      throw new ValidationFailedException('Request validation failed', [
        'repeat must be an integer from 1 to 10000, or a boolean',
      ]);
    const now = Date.now();
    const script: RunScript = { steps: dto.steps.map((s) => ({ message: s.message })), repeat };
    const run = this.runs.create({
      id: randomUUID(),
      tenantId: session.tenantId,
      ownerId: principal.id,
      sessionId: session.id,
      status: 'running',
      stopReason: null,
      approvalId: null,
      script,
      steps: [],
      toolCalls: [],
      usage: { inputTokens: 0, outputTokens: 0, cost: 0 },
      guardState: null,
      createdAt: now,
      updatedAt: now,
    });
    await this.runs.save(run);
    this.runner.start(run, principal);
    return run;
  }

  get(id: string, scope: RecordScopeFilter): Promise<RunEntity> {
    return findScoped(this.runs, 'run', id, scope);
  }

  list(scope: RecordScopeFilter, page: PageQuery): Promise<Page<RunEntity>> {
    return paginate(scopedQuery(this.runs, 'run', scope), 'run', page);
  }

  /** Cancels a live run (it stops after its current step); a run that already ended is answered as it is. */
  async cancel(id: string, scope: RecordScopeFilter): Promise<RunEntity> {
    const run = await this.get(id, scope);
    if (run.status !== 'running' && run.status !== 'awaiting_approval') return run;
    await this.runs.update(
      { id, status: In(['running', 'awaiting_approval']) },
      { status: 'cancelled', stopReason: 'cancelled', approvalId: null, updatedAt: Date.now() },
    );
    this.runner.stop(id, 'cancelled');
    return this.get(id, scope);
  }
}
