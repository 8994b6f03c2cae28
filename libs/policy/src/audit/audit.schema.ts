import { Type, type Static } from '@sinclair/typebox';
import { PositiveInteger, StrictObject } from '../schema/schema.builders';

/** The `audit` section of the policy document. */
export const AuditConfigSchema = StrictObject(
  {
    grants: Type.Optional(Type.Boolean({ description: 'Record every grant too (default false).' })),
    hashIpSalt: Type.Optional(
      Type.String({ minLength: 1, description: 'Hash client IPs with this salt before storing them.' }),
    ),
    batchSize: Type.Optional(PositiveInteger({ description: 'Events per batch written (default 200).' })),
    flushIntervalMs: Type.Optional(PositiveInteger({ description: 'Milliseconds between flushes (default 200).' })),
    maxQueue: Type.Optional(
      PositiveInteger({ description: 'Queue length above which producers wait (default 10,000).' }),
    ),
    maxWaitMs: Type.Optional(
      PositiveInteger({
        description:
          'Longest a producer waits for room in a full queue before its request is refused with 503 (default 5,000 ms).',
      }),
    ),
    anchorKey: Type.Optional(
      Type.String({
        minLength: 32,
        description:
          'Server key (at least 32 bytes) of the HMAC-SHA256 signing audit chain anchors; without it anchors are plain hashes.',
      }),
    ),
    anchorIntervalMs: Type.Optional(
      PositiveInteger({ description: "Milliseconds between anchors of this instance's chain head (default 5,000)." }),
    ),
  },
  { description: 'The audit log.' },
);
export type AuditConfig = Static<typeof AuditConfigSchema>;

/** The sections of the policy document that the audit log reads. */
export const AUDIT_SECTIONS = { audit: Type.Optional(AuditConfigSchema) };
