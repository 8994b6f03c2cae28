/** Helpers shared by the sandbox specs (outside the library build). */
import { createServer, type Server } from 'node:net';
import { describe, it } from '@jest/globals';
import { sandboxHostProblems as missingHostFeatures } from 'nest-agent-policy';

/**
 * `describe` when this host can confine a process, else a visible skip; under REQUIRE_SERVICES=1 a host that cannot
 * confine fails the run instead.
 */
export function describeWhenConfinable(name: string, body: () => void): void {
  const missing = missingHostFeatures();
  if (missing.length === 0) return describe(name, body);
  const why = `this host cannot confine sandboxed tools (missing: ${missing.join('; ')})`;
  if (process.env.REQUIRE_SERVICES === '1') {
    describe(name, () =>
      it('needs a host that can confine processes', () => {
        throw new Error(`${why} and REQUIRE_SERVICES=1`);
      }),
    );
    return;
  }
  console.warn(`SKIPPED ${name}: ${why}; set REQUIRE_SERVICES=1 to make this a failure`);
  describe.skip(name, body);
}

/** A TCP or Unix-socket server counting the connections it accepts. */
export async function countingServer(listenOn: { port: 0; host: '127.0.0.1' } | { path: string }): Promise<{
  server: Server;
  connections: () => number;
  address: string | number;
  close: () => Promise<void>;
}> {
  let count = 0;
  const server = createServer((socket) => {
    count += 1;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(listenOn, resolve));
  const addr = server.address();
  return {
    server,
    connections: () => count,
    address: typeof addr === 'object' && addr ? addr.port : String(addr),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Counts the ticks of a 10 ms interval and the largest gap between two ticks, while `work` runs. */
export async function measureResponsiveness<T>(
  work: () => Promise<T>,
): Promise<{ outcome: PromiseSettledResult<T>; ticks: number; maxGapMs: number }> {
  let ticks = 0;
  let last = performance.now();
  let maxGapMs = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    maxGapMs = Math.max(maxGapMs, now - last);
    last = now;
    ticks += 1;
  }, 10);
  const [outcome] = await Promise.allSettled([work()]);
  clearInterval(timer);
  return { outcome, ticks, maxGapMs: Math.max(maxGapMs, performance.now() - last) };
}
