import { randomUUID } from 'node:crypto';
import type { Repository } from 'typeorm';
import type { Principal, RecordScopeFilter } from 'nest-agent-policy';
import { paginate, type Page, type PageQuery } from './pagination';
import { findScoped, scopedQuery } from './scoped-records';

/** Columns every tenant-owned record has. */
export interface OwnedRow {
  id: string;
  tenantId: string | null;
  ownerId: string;
  createdAt: number;
  updatedAt: number;
}

/**
 * Create, list, read, update and delete of a tenant-owned record, always inside the caller's record scope: the
 * new record takes the caller's tenant and the caller as owner; reads, updates and deletes outside the scope are 404.
 */
export abstract class OwnedRecordsService<T extends OwnedRow, C, U> {
  protected constructor(
    protected readonly repo: Repository<T>,
    protected readonly alias: string,
  ) {}

  /** The record's own fields from a create body. */
  protected abstract fields(dto: C): Omit<T, keyof OwnedRow>;

  /** The columns an update body may change. */
  protected abstract changes(dto: U): Partial<Omit<T, keyof OwnedRow>>;

  async create(principal: Principal, dto: C): Promise<T> {
    const now = Date.now();
    const row = {
      id: randomUUID(),
      tenantId: principal.tenantId,
      ownerId: principal.id,
      createdAt: now,
      updatedAt: now,
      ...this.fields(dto),
    } as T;
    await this.repo.insert(row as never);
    return row;
  }

  list(scope: RecordScopeFilter, page: PageQuery): Promise<Page<T>> {
    return paginate(scopedQuery(this.repo, this.alias, scope), this.alias, page);
  }

  get(id: string, scope: RecordScopeFilter): Promise<T> {
    return findScoped(this.repo, this.alias, id, scope);
  }

  async update(id: string, scope: RecordScopeFilter, dto: U): Promise<T> {
    const row = await this.get(id, scope);
    const changes = { ...this.changes(dto), updatedAt: Date.now() };
    await this.repo.update({ id } as never, changes as never);
    return Object.assign(row, changes);
  }

  async remove(id: string, scope: RecordScopeFilter): Promise<void> {
    await this.get(id, scope);
    await this.repo.delete({ id } as never);
  }
}

/** Leaves out the fields a PATCH body did not set. */
export function dropUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
