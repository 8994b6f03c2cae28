import { Type, type Static } from '@sinclair/typebox';
import { EnforcementMode, PositiveInteger, PositiveNumber, StrictObject } from '../schema/schema.builders';

/** The `alerts` section of the policy document: anomaly detection per principal and per client IP. */
export const AlertsConfigSchema = StrictObject(
  {
    enabled: Type.Optional(
      Type.Boolean({ description: 'Count and raise alerts (default true when the section is present).' }),
    ),
    mode: Type.Optional(EnforcementMode('an anomaly block')),
    bucketSeconds: Type.Optional(
      PositiveInteger({ maximum: 86_400, description: 'Length of a counting bucket in seconds (default 60).' }),
    ),
    baselineBuckets: Type.Optional(
      Type.Integer({
        minimum: 2,
        maximum: 1_440,
        description: "Buckets before the current one that make a principal's baseline (default 15).",
      }),
    ),
    zScore: Type.Optional(
      PositiveNumber({
        description: 'Standard deviations above the baseline mean that make a bucket anomalous (default 4).',
      }),
    ),
    minCount: Type.Optional(
      PositiveInteger({ description: 'Fewest events in a bucket that can be anomalous (default 30).' }),
    ),
    minDeviation: Type.Optional(
      PositiveNumber({
        description: 'Floor of the standard deviation (default 1; the square root of the mean also floors it).',
      }),
    ),
    blockSeconds: Type.Optional(
      PositiveInteger({
        description:
          'Refuse the principal (or the IP, for authentication failures) with 403 for this long once an anomaly is raised.',
      }),
    ),
    maxTrackedKeys: Type.Optional(
      PositiveInteger({
        description:
          'Most principals and IPs counted in memory per process (default 100,000); the longest idle are forgotten first.',
      }),
    ),
    keyPrefix: Type.Optional(
      Type.String({ minLength: 1, maxLength: 64, description: 'Key prefix in Redis (default `nap:al:`).' }),
    ),
    webhookUrl: Type.Optional(
      Type.String({
        pattern: '^https?://',
        maxLength: 2048,
        description: 'Receives each security.anomaly event as a signed JSON POST.',
      }),
    ),
    webhookSecret: Type.Optional(
      Type.String({
        minLength: 16,
        description: 'HMAC-SHA256 key of the X-Policy-Signature header (required with webhookUrl).',
      }),
    ),
    webhookTimeoutMs: Type.Optional(
      PositiveInteger({
        maximum: 60_000,
        description: 'Longest wait for the receiver, per attempt (default 5,000 ms).',
      }),
    ),
    webhookAttempts: Type.Optional(
      PositiveInteger({ maximum: 20, description: 'Attempts per event, the first included (default 5).' }),
    ),
    webhookBackoffMs: Type.Optional(
      PositiveInteger({
        maximum: 600_000,
        description: 'Wait before the second attempt, doubled for each next one (default 1,000 ms).',
      }),
    ),
    webhookMaxQueue: Type.Optional(
      PositiveInteger({
        description: 'Most events waiting for delivery (default 1,000); beyond it the newest are dropped and logged.',
      }),
    ),
  },
  { description: 'Anomaly alerts: request, denial and failed-authentication rates against their own recent baseline.' },
);
export type AlertsConfig = Static<typeof AlertsConfigSchema>;

/** The sections of the policy document that anomaly alerts read. */
export const ALERTS_SECTIONS = { alerts: Type.Optional(AlertsConfigSchema) };
