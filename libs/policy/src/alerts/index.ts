/**
 * Anomaly alerts (`alerts` in the policy file): per-principal request and denial rates and per-IP failed
 * authentications against their own baseline; one `security.anomaly` audit event per episode, a signed webhook,
 * and an optional block.
 * @example
 * ```ts
 * // The receiving side of the webhook:
 * if (!verifyAlertSignature(process.env.ALERTS_WEBHOOK_SECRET!, rawBody, req.headers['x-policy-signature'])) reject();
 * ```
 */
export {
  AnomalyAlerts,
  ALERTS_FLUSH_MS,
  DEFAULT_ALERTS_KEY_PREFIX,
  principalSubject,
  ipSubject,
  type AnomalyEvent,
} from './anomaly-alerts.service';
export {
  AnomalyCounter,
  scoreBucket,
  type AnomalyMetric,
  type AnomalyThresholds,
  type AnomalyFinding,
  type BucketScore,
} from './anomaly-detector';
export { AnomalyBlockGuard } from './anomaly-block.guard';
export { AnomalyAlertsSubscriber } from './anomaly-alerts.subscriber';
export {
  WebhookSender,
  signAlertBody,
  verifyAlertSignature,
  ALERT_SIGNATURE_HEADER,
  type WebhookSenderOptions,
} from './webhook.sender';
export { AlertsConfigSchema, type AlertsConfig } from './alerts.schema';
