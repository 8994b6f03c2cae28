import { Injectable } from '@nestjs/common';
import { decode, encode } from 'gpt-tokenizer';

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
 * `echo-1`: a local, deterministic model. It answers with the message itself, cut to 256 tokens. Token counts come
 * from a real BPE tokenizer (o200k_base), the way a hosted model would report them.
 */
@Injectable()
export class EchoModel {
  readonly id = 'echo-1';

  static countTokens(text: string): number {
    return encode(text).length;
  }

  reply(message: string): ModelReply {
    const tokens = encode(message);
    const output = tokens.slice(0, ECHO_MAX_OUTPUT_TOKENS);
    return { model: this.id, text: decode(output), inputTokens: tokens.length, outputTokens: output.length };
  }
}
