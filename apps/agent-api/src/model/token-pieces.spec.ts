import { randomBytes } from 'node:crypto';
import { encode } from 'gpt-tokenizer';
import { MAX_PIECE, tokenizerPieces, utf8Length } from './token-pieces';

const countInPieces = (text: string): number =>
  [...tokenizerPieces(text)].reduce((sum, piece) => sum + encode(piece).length, 0);

describe('tokenizerPieces', () => {
  const samples = [
    '',
    'Hello there, agent!',
    Array.from({ length: 400 }, (_, i) => `word${i}`).join(' '),
    'Line one.\n\n  Indented line, two spaces.\r\n\tTabbed: "quoted", (parens) 12345 67.89\n'.repeat(40),
    'a'.repeat(3 * MAX_PIECE + 7),
    randomBytes(5_000).toString('base64'),
    '😀'.repeat(MAX_PIECE + 3),
    ' '.repeat(1_000) + 'x',
    'mixé ünïcode — ∑ 漢字かな交じり文 '.repeat(60),
  ];

  it.each(samples.map((s, i) => [i, s]))(
    'sample %i: joined pieces are the text, each piece within the bound',
    (_i, text) => {
      const pieces = [...tokenizerPieces(text)];
      expect(pieces.join('')).toBe(text);
      for (const piece of pieces) {
        expect(piece.length).toBeGreaterThan(0);
        expect(piece.length).toBeLessThanOrEqual(MAX_PIECE);
        // Never a lone half of a surrogate pair at either end.
        expect(piece.charCodeAt(piece.length - 1) >= 0xd800 && piece.charCodeAt(piece.length - 1) <= 0xdbff).toBe(
          false,
        );
        expect(piece.charCodeAt(0) >= 0xdc00 && piece.charCodeAt(0) <= 0xdfff).toBe(false);
      }
    },
  );

  it('counts ordinary text exactly as the whole text tokenizes', () => {
    for (const text of samples.slice(0, 4)) expect(countInPieces(text)).toBe(encode(text).length);
  });

  it('never counts more tokens than UTF-8 bytes', () => {
    for (const text of samples) expect(countInPieces(text)).toBeLessThanOrEqual(utf8Length(text));
  });

  it('counts 100,000 characters without spaces in bounded time', () => {
    for (const text of ['a'.repeat(100_000), ' '.repeat(100_000), randomBytes(75_000).toString('base64')]) {
      const started = performance.now();
      const count = countInPieces(text);
      expect(performance.now() - started).toBeLessThan(2_000);
      expect(count).toBeGreaterThan(0);
      expect(count).toBeLessThanOrEqual(utf8Length(text));
    }
  });
});
