import { setTimeout as sleep } from 'node:timers/promises';
import { decode, encode } from 'gpt-tokenizer';

/** Injection token of the delay between two streamed tokens of echo-1 (ms; `ECHO_TOKEN_DELAY_MS`, default 0). */
export const ECHO_TOKEN_DELAY_MS = Symbol('ECHO_TOKEN_DELAY_MS');

/**
 * The text of each token of a reply, in order, one entry per token; joined they are the reply. A token that ends
 * inside a multi-byte character gives `''` and the character comes with the token that completes it.
 */
export function replyTokenTexts(reply: string): string[] {
  const ids = encode(reply);
  const texts: string[] = [];
  let sent = 0;
  for (let i = 1; i <= ids.length; i++) {
    const decoded = decode(ids.slice(0, i));
    if (i < ids.length && decoded.endsWith('\uFFFD')) {
      texts.push('');
      continue;
    }
    texts.push(decoded.slice(sent));
    sent = decoded.length;
  }
  return texts;
}

/** Waits `ms` (nothing at 0); answers false, without throwing, when `signal` is aborted first. */
export async function tokenDelay(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return false;
  if (ms <= 0) return true;
  try {
    await sleep(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}
