import type { DataSource } from 'typeorm';
import type { AuditConfig } from '../policy-module-options.interface';
import type { AuditChainRecord } from '../audit/audit.chain';
import { AuditWriter, type AuditWriterOptions } from '../audit/audit.writer';
import type { PolicyMetrics } from './policy-metrics';

/** The audit writer, timing each batch it writes (`policy_audit_write_seconds`) and reporting its queue length. */
export class MeasuredAuditWriter extends AuditWriter {
  constructor(
    private readonly metrics: PolicyMetrics,
    dataSource: DataSource,
    config?: AuditConfig | null,
    options?: AuditWriterOptions | null,
  ) {
    super(dataSource, config, options);
    metrics.observeAuditQueue(() => this.pending);
  }

  protected override async writeBatch(rows: readonly AuditChainRecord[]): Promise<void> {
    const end = this.metrics.auditWriteSeconds.startTimer();
    try {
      await super.writeBatch(rows);
    } finally {
      end();
    }
  }
}
