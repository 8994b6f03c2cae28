/**
 * Cutting text into pieces a BPE tokenizer handles in bounded time. gpt-tokenizer merges each pre-tokenized word in
 * time quadratic in its length, and a run without spaces (`aaaa…`, a long base64 string, a run of spaces) is one
 * word: 100,000 characters take seconds. Tokenizing pieces of at most {@link MAX_PIECE} characters bounds the work
 * of each piece, so a caller can yield to the event loop between pieces.
 *
 * A piece ends, where it can, just before the last whitespace character that precedes a non-whitespace one: the
 * tokenizer's own pre-tokenizer splits words there, so ordinary text tokenizes exactly as it would whole. A run
 * longer than a piece is cut at the limit (never inside a surrogate pair), and its tokens are those of its pieces.
 * Every token covers at least one UTF-8 byte of its piece, so the count of any text is at most its UTF-8 length.
 */

/** Largest piece, in UTF-16 code units. */
export const MAX_PIECE = 256;

const isSpace = (code: number): boolean =>
  code === 0x20 ||
  (code >= 0x09 && code <= 0x0d) ||
  code === 0xa0 ||
  code === 0x1680 ||
  (code >= 0x2000 && code <= 0x200a) ||
  code === 0x2028 ||
  code === 0x2029 ||
  code === 0x202f ||
  code === 0x205f ||
  code === 0x3000 ||
  code === 0xfeff;

const isHighSurrogate = (code: number): boolean => code >= 0xd800 && code <= 0xdbff;

/** Where the piece starting at `start` ends (exclusive). */
export function pieceEnd(text: string, start: number, max = MAX_PIECE): number {
  const limit = start + max;
  if (limit >= text.length) return text.length;
  // The latest word boundary in the window: before a whitespace character followed by a non-whitespace one.
  for (let i = limit - 1; i > start; i -= 1) {
    if (isSpace(text.charCodeAt(i)) && !isSpace(text.charCodeAt(i + 1))) return i;
  }
  return isHighSurrogate(text.charCodeAt(limit - 1)) ? limit - 1 : limit;
}

/** The pieces of `text`, in order; joined they are `text`. */
export function* tokenizerPieces(text: string, max = MAX_PIECE): Generator<string> {
  for (let start = 0; start < text.length;) {
    const end = pieceEnd(text, start, max);
    yield text.slice(start, end);
    start = end;
  }
}

/** Number of UTF-8 bytes of `text`: an upper bound of its token count that costs no tokenizing. */
export function utf8Length(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}
