import type { Provider } from '@nestjs/common';
import { POLICY_MODULE_OPTIONS } from '../policy.constants';
import type { PolicyModuleOptions } from '../policy-module-options.interface';
import { AUDIT_CONFIG } from './audit.constants';
import { AuditService } from './audit.service';
import { AuditWriter } from './audit.writer';
import { AuditAnchorService } from './audit-anchor.service';

/**
 * The audit providers, wired to the `audit` key of the module options. Needs a TypeORM `DataSource` provider
 * (e.g. from `TypeOrmModule.forRoot`) whose entities and migrations include the audit ones.
 */
export const AUDIT_PROVIDERS: Provider[] = [
  {
    provide: AUDIT_CONFIG,
    useFactory: (options?: PolicyModuleOptions | null) => options?.audit ?? {},
    inject: [{ token: POLICY_MODULE_OPTIONS, optional: true }],
  },
  AuditWriter,
  AuditAnchorService,
  AuditService,
];
