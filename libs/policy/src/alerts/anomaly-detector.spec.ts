import { describe, expect, it } from '@jest/globals';
import { AnomalyCounter, scoreBucket, type AnomalyFinding, type AnomalyThresholds } from './anomaly-detector';
import { signAlertBody, verifyAlertSignature } from './webhook.sender';

const t: AnomalyThresholds = { bucketMs: 1000, baselineBuckets: 5, zScore: 4, minCount: 10, minDeviation: 1 };
const BASE = 1_700_000_000_000;

/** Counts `perBucket[i]` events in bucket i (from BASE), answering the findings. */
function drive(counter: AnomalyCounter, perBucket: number[], subject = 'p:0:alice') {
  const findings: Array<AnomalyFinding & { bucket: number }> = [];
  perBucket.forEach((n, i) => {
    for (let k = 0; k < n; k++) {
      const f = counter.add(subject, 'requests', 1, BASE + i * 1000 + k);
      if (f) findings.push({ ...f, bucket: i });
    }
  });
  return findings;
}

describe('scoreBucket', () => {
  it('scores against mean and deviation, floored by minDeviation and the square root of the mean', () => {
    const s = scoreBucket(30, [3, 3, 3, 3, 3], t);
    expect(s.mean).toBe(3);
    expect(s.stdDev).toBe(0);
    expect(s.z).toBeCloseTo(27 / Math.sqrt(3));
    expect(s.anomalous).toBe(true);
    // A flat baseline of 0–1: without the floors, 2 events would be a huge z.
    expect(scoreBucket(2, [0, 0, 0, 0, 0], t).z).toBe(2);
    expect(scoreBucket(9, [0, 1, 0, 1, 0], t).anomalous).toBe(false); // under minCount
  });

  it('does not flag a bucket within the noise of a busy baseline', () => {
    expect(scoreBucket(120, [100, 90, 110, 95, 105], t).anomalous).toBe(false);
    expect(scoreBucket(1000, [100, 90, 110, 95, 105], t).anomalous).toBe(true);
  });
});

describe('AnomalyCounter', () => {
  it('raises one finding for a 10× burst after a steady baseline, none for the flat load', () => {
    const counter = new AnomalyCounter(t);
    expect(drive(counter, [3, 3, 3, 3, 3, 3, 3])).toEqual([]);
    const findings = drive(new AnomalyCounter(t), [3, 3, 3, 3, 3, 3, 30, 3]);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ bucket: 6, mean: 3 });
    expect(findings[0].observed).toBeGreaterThanOrEqual(10);
  });

  it('keeps one episode while consecutive buckets stay anomalous and opens a new one after a quiet bucket', () => {
    const counter = new AnomalyCounter({ ...t, baselineBuckets: 10 });
    // Buckets 5 and 6 are both anomalous: one episode.
    expect(drive(counter, [2, 2, 2, 2, 2, 40, 40])).toHaveLength(1);
    const other = new AnomalyCounter({ ...t, baselineBuckets: 10 });
    // Bucket 6 is quiet: the episode ends; bucket 7 opens a second one.
    expect(drive(other, [2, 2, 2, 2, 2, 40, 2, 80]).map((f) => f.bucket)).toEqual([5, 7]);
  });

  it("never flags a subject's first two buckets, and compares the next ones with its complete buckets", () => {
    // A newcomer at a steady 12 a bucket, whose first bucket was partial (it started late in it).
    expect(drive(new AnomalyCounter(t), [3, 12, 12, 12, 12, 12, 12, 12])).toEqual([]);
    expect(drive(new AnomalyCounter(t), [2, 40])).toEqual([]);
    // From the third bucket on, a jump from its own level is flagged.
    expect(drive(new AnomalyCounter(t), [30, 2, 40]).map((f) => ({ bucket: f.bucket, mean: f.mean }))).toEqual([
      { bucket: 2, mean: 2 },
    ]);
  });

  it("keeps a quiet principal's history for a day, so a burst after hours of silence is flagged", () => {
    const counter = new AnomalyCounter(t);
    drive(counter, [2, 2, 2]);
    counter.sweep(BASE + 3 * 3600_000);
    expect(counter.size).toBe(1);
    expect(counter.add('p:0:alice', 'requests', 40, BASE + 3 * 3600_000)).toMatchObject({ observed: 40, mean: 0 });
  });

  it('counts principals apart and forgets the least recently counted beyond maxKeys', () => {
    const counter = new AnomalyCounter(t, 3);
    for (let i = 0; i < 10; i++) counter.add(`p:0:user${i}`, 'requests', 1, BASE);
    expect(counter.size).toBe(3);
    counter.sweep(BASE + 86_400_000 + 10_000);
    expect(counter.size).toBe(0);
  });

  it('ignores a clock that steps back', () => {
    const counter = new AnomalyCounter(t);
    counter.add('s', 'denials', 1, BASE + 5000);
    expect(counter.add('s', 'denials', 100, BASE)).toBeNull();
  });
});

describe('webhook signature', () => {
  it('verifies its own signature and refuses a changed body, a wrong secret or an old timestamp', () => {
    const secret = 'webhook-secret-0123456789';
    const body = JSON.stringify({ type: 'security.anomaly' });
    const now = Date.now();
    const header = signAlertBody(secret, body, Math.floor(now / 1000));
    expect(header).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect(verifyAlertSignature(secret, body, header, 300, now)).toBe(true);
    expect(verifyAlertSignature(secret, `${body} `, header, 300, now)).toBe(false);
    expect(verifyAlertSignature('another-secret-0123456789', body, header, 300, now)).toBe(false);
    expect(verifyAlertSignature(secret, body, header, 300, now + 600_000)).toBe(false);
    expect(verifyAlertSignature(secret, body, undefined)).toBe(false);
    expect(verifyAlertSignature(secret, body, 't=1,v1=zz')).toBe(false);
  });
});
