/**
 * Polling instead of fixed sleeps: a test that waits for something to happen (a log line, a row written off the
 * request path, a server answering) asks for it until it is there, so it neither fails on a slow machine nor idles
 * on a fast one.
 */
export interface WaitForOptions {
  /** How long to keep asking, in ms (default 10 s). */
  timeout?: number;
  /** The pause between two probes, in ms (default 25). */
  interval?: number;
  /** What is awaited, for the timeout's message. */
  what?: string;
}

/**
 * Calls `probe` until it answers a truthy value and returns that value. A probe that throws fails the wait at once
 * (catch inside the probe what means "not yet").
 * @throws when `timeout` ms pass first, naming `what`.
 * @example const token = await waitFor(() => /TOKEN=(\S+)/.exec(app.output())?.[1], { what: 'the printed token' });
 */
export async function waitFor<T>(probe: () => T | Promise<T>, options: WaitForOptions = {}): Promise<NonNullable<T>> {
  const { timeout = 10_000, interval = 25, what = 'a condition' } = options;
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}
