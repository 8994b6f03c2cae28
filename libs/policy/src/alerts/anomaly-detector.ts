/** What is counted: requests and denials per principal, failed authentications per client IP. */
export type AnomalyMetric = 'requests' | 'denials' | 'auth_failures';

/** The thresholds of the detector (the policy file's `alerts` section, defaults filled in). */
export interface AnomalyThresholds {
  /** Length of a bucket in milliseconds. */
  bucketMs: number;
  /** Buckets before the current one that form the baseline. */
  baselineBuckets: number;
  /** Standard deviations above the mean that make a bucket anomalous. */
  zScore: number;
  /** Fewest events in a bucket that can be anomalous. */
  minCount: number;
  /** Floor of the standard deviation. */
  minDeviation: number;
}

/** How a bucket compares with its baseline. */
export interface BucketScore {
  observed: number;
  mean: number;
  stdDev: number;
  z: number;
  anomalous: boolean;
}

/**
 * Scores `observed` (the current bucket) against `baseline` (the counts of the buckets before it, zeros included):
 * z = (observed − mean) / max(standard deviation, `minDeviation`, √mean). The floors keep a flat baseline of 0–1
 * from turning noise into an alert; `minCount` keeps a quiet principal's few calls from ever being one.
 */
export function scoreBucket(
  observed: number,
  baseline: ArrayLike<number>,
  t: Pick<AnomalyThresholds, 'zScore' | 'minCount' | 'minDeviation'>,
): BucketScore {
  const n = baseline.length;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += baseline[i];
  const mean = n ? sum / n : 0;
  let squares = 0;
  for (let i = 0; i < n; i++) squares += (baseline[i] - mean) ** 2;
  const stdDev = n ? Math.sqrt(squares / n) : 0;
  const z = (observed - mean) / Math.max(stdDev, t.minDeviation, Math.sqrt(mean));
  return { observed, mean, stdDev, z, anomalous: observed >= t.minCount && z >= t.zScore };
}

/** Raised once per episode: the first anomalous bucket after one that was not. */
export interface AnomalyFinding extends BucketScore {
  metric: AnomalyMetric;
  subject: string;
  /** Index of the bucket (epoch ms / bucket length). */
  bucket: number;
}

interface Series {
  /** Ring of baselineBuckets + 1 counts, slot = bucket % length. */
  counts: Uint32Array;
  /** The bucket the subject was first counted in: its baseline starts there. */
  first: number;
  /** The newest bucket counted. */
  bucket: number;
  /** The last bucket found anomalous while the episode is open, or -1 when none is open. */
  episodeBucket: number;
}

/**
 * Buckets a subject's counts are kept after its last event: a day (or the baseline, when longer), so that a
 * principal idle for hours still has its quiet buckets as its baseline when it comes back.
 */
export function retainBuckets(t: Pick<AnomalyThresholds, 'bucketMs' | 'baselineBuckets'>): number {
  return Math.max(t.baselineBuckets + 1, Math.ceil(86_400_000 / t.bucketMs));
}

/**
 * Counts events per subject and metric in buckets kept in memory, and says when an episode starts. An episode is
 * open from the first anomalous bucket until a bucket completes without being anomalous; within it, no second
 * finding is raised. Scoring runs only once a bucket reaches `minCount`, so counting is a map lookup and an add.
 *
 * A subject's baseline is its counts since its first complete bucket, at most `baselineBuckets` of them, quiet
 * buckets counting as zeros; its first two buckets (the first one partial) are never anomalous: nothing to compare
 * with (absolute ceilings are the rate limits' job).
 *
 * Memory is bounded: at most `maxKeys` series (the least recently counted go first) and a series idle for longer
 * than {@link retainBuckets} is dropped by `sweep`.
 */
export class AnomalyCounter {
  private readonly series = new Map<string, Series>();

  constructor(
    private readonly t: AnomalyThresholds,
    private readonly maxKeys = 100_000,
  ) {}

  get size(): number {
    return this.series.size;
  }

  /** Adds `n` events at `now`; answers the finding when this count opens an episode. */
  add(subject: string, metric: AnomalyMetric, n: number, now: number): AnomalyFinding | null {
    const bucket = Math.floor(now / this.t.bucketMs);
    const key = `${metric}|${subject}`;
    let s = this.series.get(key);
    const slots = this.t.baselineBuckets + 1;
    if (!s) {
      if (this.series.size >= this.maxKeys) this.evict(bucket);
      s = { counts: new Uint32Array(slots), first: bucket, bucket, episodeBucket: -1 };
      this.series.set(key, s);
    } else if (bucket > s.bucket) {
      const gap = Math.min(bucket - s.bucket, slots);
      for (let i = 1; i <= gap; i++) s.counts[(s.bucket + i) % slots] = 0;
      s.bucket = bucket;
      // Counted once per bucket at most: keeps the map ordered by last use, oldest first.
      this.series.delete(key);
      this.series.set(key, s);
    } else if (bucket < s.bucket) {
      return null; // a clock step back: count nothing rather than into the wrong bucket
    }
    // A completed bucket after the last anomalous one, not anomalous itself: the episode is over.
    if (s.episodeBucket >= 0 && bucket > s.episodeBucket + 1) s.episodeBucket = -1;
    const slot = bucket % slots;
    const observed = (s.counts[slot] = s.counts[slot] + n);
    // A subject's first bucket is partial (it started somewhere inside it): its baseline starts with the next one,
    // so its first two buckets have nothing to be compared with.
    if (observed < this.t.minCount || bucket < s.first + 2) return null;
    const baseline = new Array<number>(Math.min(this.t.baselineBuckets, bucket - s.first - 1));
    for (let i = 1; i <= baseline.length; i++) baseline[i - 1] = s.counts[(bucket - i) % slots]!;
    const score = scoreBucket(observed, baseline, this.t);
    if (!score.anomalous) return null;
    const opened = s.episodeBucket < 0;
    s.episodeBucket = bucket;
    return opened ? { ...score, metric, subject, bucket } : null;
  }

  /** Drops series idle for longer than {@link retainBuckets}. */
  sweep(now: number): void {
    this.evict(Math.floor(now / this.t.bucketMs));
  }

  private evict(bucket: number): void {
    const idle = bucket - retainBuckets(this.t);
    for (const [key, s] of this.series) {
      if (s.bucket > idle && this.series.size < this.maxKeys) break;
      this.series.delete(key);
    }
  }
}
