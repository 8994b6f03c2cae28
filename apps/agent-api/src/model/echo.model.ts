import { Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { decode, encode } from 'gpt-tokenizer';
import { tokenizerPieces, utf8Length } from './token-pieces';
import { TokenizerWorker } from './tokenizer.worker';

/** The reply of a model call and its token counts. */
export interface ModelReply {
  model: string;
  text: string;
  inputTokens: number;
  outputTokens: number;
}

/** Largest reply of `echo-1`, in tokens; also what a call reserves for its output. */
export const ECHO_MAX_OUTPUT_TOKENS = 256;

/**
 * Messages up to this many characters are tokenized on the event loop (a few bounded pieces: at most a few ms);
 * longer ones on the tokenizer worker, and their estimate is their UTF-8 length.
 */
const INLINE_MAX_CHARS = 2_048;

/**
 * `echo-1`: a local, deterministic model. It answers with the message itself, cut to 256 tokens. Token counts come
 * from a real BPE tokenizer (o200k_base), the way a hosted model would report them, applied to bounded pieces of
 * the message (see `token-pieces.ts`); long messages are tokenized on a worker thread, so a long run without
 * spaces never holds the server up.
 */
@Injectable()
export class EchoModel implements OnModuleInit, OnModuleDestroy {
  readonly id = 'echo-1';
  private readonly worker = new TokenizerWorker();

  /**
   * A cheap estimate of the input tokens of a message, never below what {@link reply} will count: exact for short
   * messages (bounded work), the UTF-8 length otherwise (a token covers at least one byte). Not a string: 0.
   */
  static estimateTokens(message: unknown): number {
    if (typeof message !== 'string') return 0;
    if (message.length > INLINE_MAX_CHARS) return utf8Length(message);
    let count = 0;
    for (const piece of tokenizerPieces(message)) count += encode(piece).length;
    return count;
  }

  async reply(message: string): Promise<ModelReply> {
    const pieces = [...tokenizerPieces(message)];
    if (message.length > INLINE_MAX_CHARS) {
      return { model: this.id, ...(await this.worker.tokenize(pieces, ECHO_MAX_OUTPUT_TOKENS)) };
    }
    let inputTokens = 0;
    const output: number[] = [];
    for (const piece of pieces) {
      const tokens = encode(piece);
      inputTokens += tokens.length;
      if (output.length < ECHO_MAX_OUTPUT_TOKENS)
        output.push(...tokens.slice(0, ECHO_MAX_OUTPUT_TOKENS - output.length));
    }
    return { model: this.id, text: decode(output), inputTokens, outputTokens: output.length };
  }

  /** Loads the tokenizer's tables (some 300 ms) at boot, here and on the worker, instead of on a first request. */
  onModuleInit(): void {
    encode('warm up');
    this.worker.start();
  }

  onModuleDestroy(): Promise<void> {
    return this.worker.close();
  }
}
