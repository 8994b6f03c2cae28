import { AnomalyBlockedException } from '../policy.exceptions';
import { createHash, randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger, Optional, type OnModuleDestroy } from '@nestjs/common';
import type { Cluster, Redis } from 'ioredis';
import { AuditService } from '../audit/audit.service';
import type { AuditOutcome } from '../audit/audit-event.interface';
import { ipTracker } from '../authentication/client-ip';
import type { Principal } from '../authentication/principal.interface';
import type { CompiledPolicy } from '../authorization/compiled-policy';
import { PolicyMetrics } from '../monitoring/policy-metrics';
import { COMPILED_POLICY, POLICY_CLOCK, POLICY_REDIS } from '../policy.constants';
import type { AlertsConfig } from './alerts.schema';
import {
  AnomalyCounter,
  retainBuckets,
  type AnomalyFinding,
  type AnomalyMetric,
  type AnomalyThresholds,
} from './anomaly-detector';
import { ANOMALY_COUNT_LUA } from './redis-anomaly.script';
import { WebhookSender } from './webhook.sender';

/** Default prefix of the alert counters in Redis. */
export const DEFAULT_ALERTS_KEY_PREFIX = 'nap:al:';

const MAX_BLOCKED = 100_000;

/**
 * With Redis, counts gather in memory for this long (or until the bucket changes) before they are sent: one script
 * call per subject and metric per window, whatever the request rate.
 */
export const ALERTS_FLUSH_MS = 100;

/** The JSON body of a `security.anomaly` webhook delivery (and the `details` of its audit event). */
export interface AnomalyEvent {
  type: 'security.anomaly';
  /** Also the audit event's id and the `X-Policy-Delivery` header. */
  id: string;
  /** ISO 8601. */
  at: string;
  metric: AnomalyMetric;
  /** Per principal for requests and denials, per client IP (an IPv6 /64) for failed authentication. */
  subject: { kind: 'principal'; principalId: string; tenantId: string | null } | { kind: 'ip'; ip: string };
  /** Events in the current bucket when the anomaly was raised. */
  observed: number;
  baselineMean: number;
  baselineStdDev: number;
  z: number;
  bucketSeconds: number;
  mode: 'enforce' | 'shadow';
  /** Until when the subject is refused (ISO 8601), null when no block applies (no `blockSeconds`, or shadow mode). */
  blockedUntil: string | null;
}

interface Origin {
  requestId: string | null;
  principal: Principal | null;
  ip: string | null;
}

interface Pending extends Origin {
  subject: string;
  metric: AnomalyMetric;
  n: number;
}

type ScriptReply = [number, number, number, string, string, string];
type AlertsRedis = (Redis | Cluster) & {
  napAnomalyCount(c: string, e: string, b: string, ...args: (string | number)[]): Promise<ScriptReply>;
};

/** The subject under which a principal is counted and blocked. */
export function principalSubject(principal: Principal): string {
  const tenant = principal.tenantId ?? '';
  return `p:${tenant.length}:${tenant}${principal.id}`;
}

/** The subject under which a client IP's failed authentications are counted and blocked. */
export function ipSubject(ip: string): string {
  return `ip:${ipTracker(ip)}`;
}

/**
 * Anomaly alerts (`alerts` in the policy file). Counts each principal's requests and denials and each client IP's
 * failed authentications in buckets of `bucketSeconds`, scores the current bucket against the principal's own
 * previous `baselineBuckets` (z-score with `minCount` and a floor on the deviation), and on the first anomalous
 * bucket of an episode records one `security.anomaly` audit event, queues it for the webhook and, with
 * `blockSeconds` in `enforce` mode, refuses the subject for that long.
 *
 * Nothing on the request path waits: in memory a count is a map update; with Redis counts gather for
 * {@link ALERTS_FLUSH_MS} (one script call per subject and metric per window, sent after the responses), so a block
 * raised by a burst applies to the requests counted after it. The block check reads a per-process map.
 */
@Injectable()
export class AnomalyAlerts implements OnModuleDestroy {
  readonly enabled: boolean;
  /** Whether a raised anomaly blocks (a `blockSeconds` in `enforce` mode). */
  readonly blocking: boolean;
  readonly webhook: WebhookSender | null;
  private readonly config: AlertsConfig;
  private readonly thresholds: AnomalyThresholds;
  private readonly memory: AnomalyCounter;
  private readonly blocked = new Map<string, number>();
  private readonly prefix: string;
  private readonly now: () => number;
  private readonly logger = new Logger('AnomalyAlerts');
  private readonly sweeper: NodeJS.Timeout | null = null;
  private readonly redis: AlertsRedis | null;
  private pending = new Map<string, Pending>();
  private pendingBucket = -1;
  private flushTimer: NodeJS.Timeout | null = null;
  private redisDownLogged = 0;

  constructor(
    @Inject(COMPILED_POLICY) compiled: CompiledPolicy,
    private readonly audit: AuditService,
    @Optional() @Inject(POLICY_REDIS) redis: Redis | Cluster | null = null,
    @Optional() @Inject(POLICY_CLOCK) clock: (() => number) | null = null,
    @Optional() private readonly metrics: PolicyMetrics | null = null,
  ) {
    const config = compiled.document.alerts ?? null;
    this.config = config ?? {};
    this.enabled = config !== null && config.enabled !== false;
    this.blocking = this.enabled && this.config.blockSeconds !== undefined && this.config.mode !== 'shadow';
    this.thresholds = {
      bucketMs: (this.config.bucketSeconds ?? 60) * 1000,
      baselineBuckets: this.config.baselineBuckets ?? 15,
      zScore: this.config.zScore ?? 4,
      minCount: this.config.minCount ?? 30,
      minDeviation: this.config.minDeviation ?? 1,
    };
    this.memory = new AnomalyCounter(this.thresholds, this.config.maxTrackedKeys ?? 100_000);
    this.prefix = this.config.keyPrefix ?? DEFAULT_ALERTS_KEY_PREFIX;
    this.now = clock ?? Date.now;
    if (this.config.webhookUrl !== undefined && this.config.webhookSecret === undefined) {
      throw new Error('alerts.webhookSecret: required with alerts.webhookUrl (deliveries are signed)');
    }
    if (this.config.webhookUrl !== undefined) {
      try {
        new URL(this.config.webhookUrl);
      } catch {
        throw new Error('alerts.webhookUrl: not a valid http(s) URL');
      }
    }
    this.webhook =
      this.enabled && this.config.webhookUrl && this.config.webhookSecret
        ? new WebhookSender({
            url: this.config.webhookUrl,
            secret: this.config.webhookSecret,
            timeoutMs: this.config.webhookTimeoutMs,
            attempts: this.config.webhookAttempts,
            backoffMs: this.config.webhookBackoffMs,
            maxQueue: this.config.webhookMaxQueue,
          })
        : null;
    this.redis = this.enabled && redis ? (redis as AlertsRedis) : null;
    if (this.redis && typeof this.redis.napAnomalyCount !== 'function') {
      this.redis.defineCommand('napAnomalyCount', { numberOfKeys: 3, lua: ANOMALY_COUNT_LUA });
    }
    if (this.enabled) {
      this.sweeper = setInterval(() => this.sweep(), Math.max(1000, this.thresholds.bucketMs));
      this.sweeper.unref();
    }
  }

  /** Counts one decision about `principal`'s request: a request, and a denial when `denied`. */
  observeDecision(
    principal: Principal,
    denied: boolean,
    origin: { requestId?: string | null; ip?: string | null },
  ): void {
    if (!this.enabled) return;
    const subject = principalSubject(principal);
    this.count(subject, 'requests', principal, origin);
    if (denied) this.count(subject, 'denials', principal, origin);
  }

  /** Counts one failed authentication from `ip`. */
  observeAuthFailure(ip: string, requestId: string | null): void {
    if (!this.enabled) return;
    this.count(ipSubject(ip), 'auth_failures', null, { requestId, ip });
  }

  /** Throws 403 `forbidden`, reason `anomaly`, while `subject` is blocked; nothing to do while nobody is. */
  refuseIfBlocked(subject: string): void {
    if (!this.blocking) return;
    const ms = this.blockedFor(subject);
    if (ms <= 0) return;
    this.metrics?.anomalyBlocks.inc();
    throw new AnomalyBlockedException(ms / 1000);
  }

  /** Milliseconds `subject` stays refused, 0 when it is not. */
  blockedFor(subject: string): number {
    if (this.blocked.size === 0) return 0;
    const until = this.blocked.get(subject);
    if (until === undefined) return 0;
    const left = until - this.now();
    if (left > 0) return left;
    this.blocked.delete(subject);
    return 0;
  }

  /** Subjects counted in this process's memory (bounded by `maxTrackedKeys`). */
  get trackedKeys(): number {
    return this.memory.size;
  }

  onModuleDestroy(): void {
    if (this.sweeper) clearInterval(this.sweeper);
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    this.webhook?.close();
  }

  private count(
    subject: string,
    metric: AnomalyMetric,
    principal: Principal | null,
    origin: { requestId?: string | null; ip?: string | null },
  ): void {
    if (!this.redis) {
      const finding = this.memory.add(subject, metric, 1, this.now());
      if (finding) this.raise(finding, { principal, requestId: origin.requestId ?? null, ip: origin.ip ?? null }, null);
      return;
    }
    const bucket = Math.floor(this.now() / this.thresholds.bucketMs);
    if (bucket !== this.pendingBucket) {
      if (this.pending.size) this.flush();
      this.pendingBucket = bucket;
    }
    const key = `${metric}|${subject}`;
    const entry = this.pending.get(key);
    if (entry) {
      entry.n++;
      entry.requestId = origin.requestId ?? entry.requestId;
    } else {
      this.pending.set(key, {
        subject,
        metric,
        n: 1,
        principal,
        requestId: origin.requestId ?? null,
        ip: origin.ip ?? null,
      });
    }
    if (!this.flushTimer) {
      this.flushTimer = setTimeout(() => this.flush(), ALERTS_FLUSH_MS);
      this.flushTimer.unref();
    }
  }

  /** Sends the counts gathered since the last flush (all of one bucket) to Redis, one script call per subject and metric. */
  private flush(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    const batch = this.pending;
    this.pending = new Map();
    const bucket = this.pendingBucket;
    const ttl = (this.thresholds.baselineBuckets + 2) * this.thresholds.bucketMs;
    const blockMs = this.blocking ? this.config.blockSeconds! * 1000 : 0;
    const t = this.thresholds;
    const retain = retainBuckets(t) * t.bucketMs;
    for (const entry of batch.values()) {
      const tag = `${this.prefix}{${createHash('sha256').update(entry.subject).digest('hex').slice(0, 32)}}`;
      this.redis!.napAnomalyCount(
        `${tag}:${entry.metric}:c`,
        `${tag}:${entry.metric}:e`,
        `${tag}:b`,
        bucket,
        entry.n,
        t.baselineBuckets,
        t.minCount,
        t.zScore,
        t.minDeviation,
        ttl,
        blockMs,
        retain,
      ).then(
        ([observed, opened, blockTtl, mean, stdDev, z]) => {
          if (blockTtl > 0) this.block(entry.subject, this.now() + blockTtl);
          if (opened === 1) {
            const finding: AnomalyFinding = {
              metric: entry.metric,
              subject: entry.subject,
              bucket,
              observed: Number(observed),
              mean: Number(mean),
              stdDev: Number(stdDev),
              z: Number(z),
              anomalous: true,
            };
            this.raise(finding, entry, blockTtl > 0 ? blockTtl : null);
          }
        },
        (error: unknown) => {
          // Redis unreachable: count in this process instead, so detection and blocks go on per instance.
          if (this.now() - this.redisDownLogged > 10_000) {
            this.redisDownLogged = this.now();
            this.logger.warn(`Alert counters unavailable in Redis, counting per process: ${(error as Error).message}`);
          }
          const finding = this.memory.add(entry.subject, entry.metric, entry.n, bucket * this.thresholds.bucketMs);
          if (finding) this.raise(finding, entry, null);
        },
      );
    }
  }

  private raise(finding: AnomalyFinding, origin: Origin, blockMs: number | null): void {
    const now = this.now();
    if (blockMs === null && this.blocking) blockMs = this.config.blockSeconds! * 1000;
    if (blockMs !== null && blockMs > 0) this.block(finding.subject, now + blockMs);
    const shadow = this.config.mode === 'shadow';
    const outcome: AuditOutcome = this.config.blockSeconds === undefined ? 'WARNING' : shadow ? 'SHADOW_DENY' : 'DENY';
    const subject: AnomalyEvent['subject'] =
      finding.metric === 'auth_failures'
        ? { kind: 'ip', ip: finding.subject.slice(3) }
        : {
            kind: 'principal',
            principalId: origin.principal?.id ?? finding.subject,
            tenantId: origin.principal?.tenantId ?? null,
          };
    const round = (x: number) => Math.round(x * 100) / 100;
    const event: AnomalyEvent = {
      type: 'security.anomaly',
      id: randomUUID(),
      at: new Date(now).toISOString(),
      metric: finding.metric,
      subject,
      observed: finding.observed,
      baselineMean: round(finding.mean),
      baselineStdDev: round(finding.stdDev),
      z: round(finding.z),
      bucketSeconds: this.thresholds.bucketMs / 1000,
      mode: shadow ? 'shadow' : 'enforce',
      blockedUntil: blockMs ? new Date(now + blockMs).toISOString() : null,
    };
    this.metrics?.anomalies.inc({ metric: finding.metric, outcome });
    const who = subject.kind === 'ip' ? `client ${subject.ip}` : `principal ${subject.principalId}`;
    this.logger.warn(
      `Anomaly: ${who}, ${finding.metric} ${event.observed} in ${event.bucketSeconds} s against a mean of ${event.baselineMean} (z ${event.z})`,
    );
    this.audit
      .record({
        id: event.id,
        type: 'security.anomaly',
        outcome,
        principalId: subject.kind === 'principal' ? subject.principalId : null,
        tenantId: subject.kind === 'principal' ? subject.tenantId : null,
        requestId: origin.requestId,
        ip: origin.ip,
        reasons: [
          `${finding.metric} ${event.observed} in ${event.bucketSeconds} s against a baseline mean of ${event.baselineMean} (z ${event.z})`,
        ],
        details: {
          metric: event.metric,
          subject: subject.kind,
          observed: event.observed,
          baselineMean: event.baselineMean,
          baselineStdDev: event.baselineStdDev,
          z: event.z,
          bucketSeconds: event.bucketSeconds,
          mode: event.mode,
          blockedUntil: event.blockedUntil,
        },
      })
      .catch((error: unknown) => this.logger.error(`security.anomaly not audited: ${(error as Error).message}`));
    this.webhook?.send(event.id, event);
  }

  private block(subject: string, until: number): void {
    if (this.blocked.size >= MAX_BLOCKED && !this.blocked.has(subject)) {
      this.sweepBlocked();
      // Still full of live blocks: forget the oldest rather than grow without bound.
      for (const key of this.blocked.keys()) {
        if (this.blocked.size < MAX_BLOCKED) break;
        this.blocked.delete(key);
      }
    }
    this.blocked.set(subject, Math.max(until, this.blocked.get(subject) ?? 0));
  }

  private sweep(): void {
    this.memory.sweep(this.now());
    this.sweepBlocked();
  }

  private sweepBlocked(): void {
    const now = this.now();
    for (const [key, until] of this.blocked) if (until <= now) this.blocked.delete(key);
  }
}
