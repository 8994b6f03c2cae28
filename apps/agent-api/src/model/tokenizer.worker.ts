import { Worker } from 'node:worker_threads';

/** What the tokenizer worker answers for one message. */
export interface WorkerTokens {
  inputTokens: number;
  /** The first `maxOutput` tokens, decoded. */
  text: string;
  outputTokens: number;
}

interface Job {
  resolve: (tokens: WorkerTokens) => void;
  reject: (error: Error) => void;
}

/**
 * The worker's code, evaluated as a script so the same source runs from TypeScript (tests) and from the build.
 * It loads the tokenizer from the absolute path it is given, never relative to the working directory.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { encode, decode } = require(workerData.tokenizer);
parentPort.on('message', ({ id, pieces, maxOutput }) => {
  try {
    let inputTokens = 0;
    const output = [];
    for (const piece of pieces) {
      const tokens = encode(piece);
      inputTokens += tokens.length;
      for (let i = 0; i < tokens.length && output.length < maxOutput; i += 1) output.push(tokens[i]);
    }
    parentPort.postMessage({ id, inputTokens, text: decode(output), outputTokens: output.length });
  } catch (error) {
    parentPort.postMessage({ id, error: String(error && error.message || error) });
  }
});
`;

/**
 * Tokenizes long messages on a worker thread, one message after another, so the event loop never runs the BPE
 * merge of a long input. Started on first use, unreferenced (it never keeps the process alive), restarted after a
 * crash (the jobs in flight then fail).
 */
export class TokenizerWorker {
  private worker: Worker | null = null;
  private readonly jobs = new Map<number, Job>();
  private nextId = 1;

  /** Counts and cuts a message given as bounded pieces (see `token-pieces.ts`). */
  tokenize(pieces: readonly string[], maxOutput: number): Promise<WorkerTokens> {
    const worker = this.start();
    const id = this.nextId++;
    return new Promise<WorkerTokens>((resolve, reject) => {
      this.jobs.set(id, { resolve, reject });
      worker.ref();
      worker.postMessage({ id, pieces, maxOutput });
    });
  }

  /** Stops the worker; jobs in flight fail. */
  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    if (worker) await worker.terminate();
  }

  /** Starts the worker now (it loads the tokenizer's tables) rather than on first use. */
  start(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { tokenizer: require.resolve('gpt-tokenizer') },
    });
    worker.unref();
    // Loads the tables before the first message arrives.
    worker.postMessage({ id: 0, pieces: ['warm up'], maxOutput: 0 });
    worker.on('message', (message: { id: number; error?: string } & WorkerTokens) => {
      const job = this.jobs.get(message.id);
      this.jobs.delete(message.id);
      if (this.jobs.size === 0) worker.unref();
      if (!job) return;
      if (message.error !== undefined) job.reject(new Error(`Tokenizer failed: ${message.error}`));
      else job.resolve({ inputTokens: message.inputTokens, text: message.text, outputTokens: message.outputTokens });
    });
    const fail = (error: Error) => {
      if (this.worker === worker) this.worker = null;
      for (const job of this.jobs.values()) job.reject(error);
      this.jobs.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`The tokenizer worker exited (${code})`)));
    this.worker = worker;
    return worker;
  }
}
