import { Inject, Injectable, Logger, Optional, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { redactString } from '../audit/audit.redaction';
import type { PermissionDecision, PolicyContext, RateLimitDecision } from '../authorization/policy-context.interface';
import type { BudgetEvent } from '../budget/budget.service';

/** The authorization guard (or the approval gate after it) let a call through. */
export interface AccessGrantedEvent {
  readonly type: 'access.granted';
  readonly ctx: PolicyContext;
  readonly operation: string;
  readonly decision: PermissionDecision;
}

/** The authorization guard refused a call; `shadow` when a role in shadow mode let it pass anyway. */
export interface AccessDeniedEvent {
  readonly type: 'access.denied';
  readonly ctx: PolicyContext;
  readonly operation: string;
  readonly decision: PermissionDecision;
  readonly shadow: boolean;
}

/** A call went over a rate-limit bucket; `shadow` when `rateLimits.mode: shadow` let it pass. */
export interface RateLimitExceededEvent {
  readonly type: 'rate_limit.exceeded';
  readonly ctx: PolicyContext;
  readonly operation: string | null;
  readonly decision: RateLimitDecision;
  readonly shadow: boolean;
}

/** Credentials were presented and refused. `tenantId`: the tenant of the API key the attempt named, when it exists. */
export interface AuthFailureEvent {
  readonly type: 'auth.failure';
  readonly ip: string;
  readonly requestId: string;
  readonly credential: 'jwt' | 'api-key';
  readonly tenantId: string | null;
}

/** A budget went past its soft limit or refused a call (`budget.soft_limit`, `budget.exceeded`). */
export interface BudgetPolicyEvent extends BudgetEvent {
  readonly type: BudgetEvent['type'];
}

/** Everything the request path reports: decisions, limits, failed credentials, budgets. */
export type PolicyEvent =
  AccessGrantedEvent | AccessDeniedEvent | RateLimitExceededEvent | AuthFailureEvent | BudgetPolicyEvent;

/**
 * The one sink of the request path's events. The guards, the approval gate and the budget service emit here; the
 * audit log, the failed-authentication counter and the metrics subscribe. Replace the whole sink by providing
 * {@link POLICY_EVENTS}, or add a subscriber with {@link PolicyEventSubscriber}.
 */
export interface PolicyEvents {
  /** Hands the event to every subscriber; resolves once they have taken it. Never rejects. */
  emit(event: PolicyEvent): Promise<void>;
}

/** Injection token of the {@link PolicyEvents} sink. */
export const POLICY_EVENTS = Symbol('POLICY:EVENTS');

/** A subscriber of the {@link PolicyEvents} sink. */
export interface PolicyEventListener {
  /** May answer a promise (of anything): the sink awaits it before the next subscriber gets the event. */
  onPolicyEvent(event: PolicyEvent): void | Promise<unknown>;
}

/**
 * Marks a provider as a subscriber of the request path's events: register the class as a provider of any module and
 * the default sink finds it at module init. It must be a singleton with an `onPolicyEvent(event)` method.
 * @example
 * ```ts
 * @PolicyEventSubscriber()
 * @Injectable()
 * export class DenialCounter implements PolicyEventListener {
 *   denials = 0;
 *   onPolicyEvent(event: PolicyEvent) { if (event.type === 'access.denied') this.denials++; }
 * }
 * ```
 */
export const PolicyEventSubscriber = DiscoveryService.createDecorator<Record<string, never>>();

/**
 * The default {@link PolicyEvents} sink: calls every `@PolicyEventSubscriber()` provider in turn, awaiting the ones
 * that answer a promise. A subscriber that throws is logged and skipped: the others still get the event, and the
 * decision already taken stands.
 */
@Injectable()
export class PolicyEventBus implements PolicyEvents, OnModuleInit {
  private readonly logger = new Logger('PolicyEvents');
  private listeners: PolicyEventListener[] = [];

  constructor(@Optional() @Inject(DiscoveryService) private readonly discovery: DiscoveryService | null = null) {}

  /** @throws Error naming the provider when a decorated provider is not a singleton with `onPolicyEvent`. */
  onModuleInit(): void {
    if (!this.discovery) return;
    for (const wrapper of this.discovery.getProviders({ metadataKey: PolicyEventSubscriber.KEY })) {
      const label = String(wrapper.name ?? 'unknown provider');
      if (!wrapper.isDependencyTreeStatic())
        throw new Error(`Policy event subscriber ${label} must be a singleton provider`);
      const instance = wrapper.instance as Partial<PolicyEventListener> | undefined;
      if (!instance || typeof instance.onPolicyEvent !== 'function') {
        throw new Error(`Policy event subscriber ${label} needs an onPolicyEvent(event) method`);
      }
      this.subscribe(instance as PolicyEventListener);
    }
  }

  /** Adds a subscriber (once). */
  subscribe(listener: PolicyEventListener): void {
    if (!this.listeners.includes(listener)) this.listeners = [...this.listeners, listener];
  }

  async emit(event: PolicyEvent): Promise<void> {
    await this.emitNow(event);
  }

  /**
   * {@link emit} without a promise while every subscriber takes the event synchronously (the metrics, the anomaly
   * counters, and the audit log for the events it does not record): a promise only once a subscriber answers one,
   * the rest then called after it, in order.
   */
  emitNow(event: PolicyEvent): Promise<void> | undefined {
    const listeners = this.listeners;
    for (let i = 0; i < listeners.length; i++) {
      const pending = this.deliver(listeners[i], event);
      if (pending) return this.deliverFrom(i + 1, event, pending);
    }
    return undefined;
  }

  private async deliverFrom(next: number, event: PolicyEvent, pending: Promise<void>): Promise<void> {
    await pending;
    const listeners = this.listeners;
    for (let i = next; i < listeners.length; i++) await this.deliver(listeners[i], event);
  }

  /** Hands one subscriber the event; a failure (thrown or rejected) is logged, never passed on. */
  private deliver(listener: PolicyEventListener, event: PolicyEvent): Promise<void> | undefined {
    try {
      const done = listener.onPolicyEvent(event);
      return done ? Promise.resolve(done).then(ignore, (error: unknown) => this.failed(event, error)) : undefined;
    } catch (error) {
      this.failed(event, error);
      return undefined;
    }
  }

  private failed(event: PolicyEvent, error: unknown): void {
    this.logger.error(
      `A subscriber failed on ${event.type}: ${redactString(error instanceof Error ? error.message : String(error))}`,
    );
  }
}

function ignore(): void {}
