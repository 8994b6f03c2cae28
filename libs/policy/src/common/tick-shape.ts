import { executionAsyncResource } from 'node:async_hooks';

let kept: object | null = null;
let scheduled = false;

/**
 * Keeps one of Node's `process.nextTick` queue entries reachable for the life of the process.
 *
 * Node builds each entry as an object literal with computed (symbol) keys (two on Node 20; newer versions add a
 * third). V8 gives those objects a chain of hidden classes that lives only as long as some entry does; entries are
 * short-lived, so a full garbage collection at a moment when none is queued drops the chain, and the next entry gets a
 * new one. After a few such collections (a busy app's start-up, or an idle moment under load) the optimised
 * `nextTick` has seen too many hidden classes and adds the keys through the runtime on every call: ~250 ns instead
 * of ~45 ns a call on Node 20, and a request through Node's HTTP server and streams makes 20–30 such calls. Holding
 * one entry keeps the chain alive, so it is never replaced. It helps only when it comes before the chain was
 * replaced a few times: an app's entry file imports `nest-agent-policy/keep-next-tick-shape` first, and
 * `PolicyModule` calls this too (later, as a fallback). Idempotent; costs one small object. When the callback does
 * not run from Node's queue (a test's fake timers), nothing is kept and the next call tries again.
 */
export function keepNextTickShape(): void {
  if (scheduled) return;
  scheduled = true;
  const callback = () => {
    // Inside a nextTick callback the execution resource is the queue entry being run.
    const entry = executionAsyncResource() as { callback?: unknown };
    if (entry.callback === callback) kept = entry;
    else scheduled = false;
  };
  process.nextTick(callback);
}

/** The entry kept by {@link keepNextTickShape}, once its tick has run (for tests). */
export function keptNextTickEntry(): object | null {
  return kept;
}
