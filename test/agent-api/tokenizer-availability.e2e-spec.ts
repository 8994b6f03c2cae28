/**
 * One request must not freeze the server: while clients post messages the BPE tokenizer is slow on (1 MiB of one
 * character and 1 MiB of random base64, just under the body limit, and 100,000-character ones that pass validation),
 * `GET /health` keeps answering within 100 ms (the median probe; none past a second), on Express and Fastify. Every post gets an answer, none a 5xx.
 * The built app runs in a process of its own (`npm run build` first), so the latency measured is the server's.
 */
import { randomBytes } from 'node:crypto';
import { setPriority, tmpdir } from 'node:os';
import { ADMIN, signToken } from '../support/harness-exports';
import { startAgentApiProcess, type AgentApiProcess } from '../support/agent-api.process';
import { newSession, writePolicyFile } from '../budget-http/budget-http.fixtures';

const HEALTH_WITHIN_MS = 100;
/** A JSON body `{"message":"…"}` just under the 1 MiB body limit. */
const NEAR_LIMIT = 1024 * 1024 - 64;
const ATTACK_MS = 4_000;

type Answer = { status: number; body: { code?: string; usage?: { inputTokens: number } } };

describe.each(['express', 'fastify'] as const)('the tokenizer never blocks the event loop (%s)', (adapter) => {
  let app: AgentApiProcess;
  beforeAll(async () => {
    const dir = randomBytes(4).toString('hex');
    app = await startAgentApiProcess({
      HTTP_ADAPTER: adapter,
      DATABASE_URL: `sqlite:${tmpdir()}/tokenizer-${dir}.sqlite`,
      POLICY_CONFIG: writePolicyFile({ principal: { day: { tokens: 1_000_000_000, cost: 1_000_000 } } }),
    });
    // The machine running the suites is shared with other loads; the server's main thread and the probing client
    // are given priority over them (when the OS allows it) so that the probes measure this server, not the
    // neighbours. Threads created
    // before this call, the tokenizer worker among them, keep the default priority.
    try {
      setPriority(app.child.pid!, -10);
      setPriority(-10); // this process, which sends the probes and times them
    } catch {
      console.warn('could not raise the server priority; latencies include the load of other processes');
    }
  }, 60_000);
  afterAll(() => app?.stop());

  it(`answers GET /health within ${HEALTH_WITHIN_MS} ms while slow-to-tokenize messages are posted`, async () => {
    const headers = { Authorization: `Bearer ${signToken({ ...ADMIN, sub: `tokenizer-${adapter}` })}` };
    const session = await newSession(app.url, headers);
    const messages = [
      'a'.repeat(NEAR_LIMIT),
      randomBytes(NEAR_LIMIT).toString('base64').slice(0, NEAR_LIMIT),
      'a'.repeat(100_000),
      ' '.repeat(99_999) + 'x',
      randomBytes(75_000).toString('base64'),
    ];
    const bodies = messages.map((message) => Buffer.from(JSON.stringify({ message })));
    const post = (body: Buffer): Promise<Answer> =>
      fetch(`${app.url}/sessions/${session}/events`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body,
      }).then(async (res) => ({ status: res.status, body: (await res.json()) as Answer['body'] }));

    // One long message first: the tokenizer worker has loaded its tables before the clock starts.
    expect((await post(bodies[2])).status).toBe(201);

    const latencies: number[] = [];
    let attacking = true;
    const probe = (async () => {
      while (attacking) {
        const started = performance.now();
        const res = await fetch(`${app.url}/health`);
        await res.arrayBuffer();
        latencies.push(res.status === 200 ? performance.now() - started : Infinity);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    // Three clients, each posting one after the other: 1 MiB of one character, 1 MiB of base64, and the messages
    // short enough to pass validation (which reach the tokenizer); each pauses 50 ms between posts.
    const started = Date.now();
    const results: Array<Answer & { message: string }> = [];
    const client = async (indexes: number[]) => {
      for (let i = 0; Date.now() - started < ATTACK_MS; i += 1) {
        const index = indexes[i % indexes.length];
        results.push({ ...(await post(bodies[index])), message: messages[index] });
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    await Promise.all([client([0]), client([1]), client([2, 3, 4])]);
    attacking = false;
    await probe;

    latencies.sort((a, b) => a - b);
    const p50 = latencies[latencies.length >> 1];
    const p95 = latencies[Math.floor(latencies.length * 0.95)];
    const max = latencies[latencies.length - 1];
    console.log(
      `${adapter}: ${results.length} posts in ${Date.now() - started} ms; ${latencies.length} health probes, p50 ${p50.toFixed(1)} ms, p95 ${p95.toFixed(1)} ms, max ${max.toFixed(1)} ms`,
    );
    expect(latencies.length).toBeGreaterThan(20);
    // The server does no tokenizing on its event loop; what remains is parsing and validating the bodies (some 7 ms
    // of CPU for 1 MiB). The typical probe answers within 100 ms and none waits a second (before the fix: one 1 MiB
    // post blocked every request for more than ten minutes). p95 is printed: under 100 ms on a quiet machine, up to
    // about 200 ms on a 2-core machine running a dozen other busy processes.
    expect(p50).toBeLessThan(HEALTH_WITHIN_MS);
    expect(max).toBeLessThan(10 * HEALTH_WITHIN_MS);
    // Over the 100,000-character limit: 400; within it: stored and counted, never more tokens than bytes.
    expect(results.filter((res) => res.message.length <= 100_000).length).toBeGreaterThanOrEqual(1);
    for (const { message, ...res } of results) {
      if (message.length > 100_000) {
        expect(res).toMatchObject({ status: 400, body: { code: 'validation_failed' } });
      } else {
        expect(res.status).toBe(201);
        expect(res.body.usage!.inputTokens).toBeGreaterThan(0);
        expect(res.body.usage!.inputTokens).toBeLessThanOrEqual(Buffer.byteLength(message));
      }
    }
  }, 60_000);
});
