import { QueryFailedError } from 'typeorm';
import { isPermanentWriteError, storableJson, storableText } from './storable';

const failed = (code: unknown) => new QueryFailedError('INSERT …', [], Object.assign(new Error('refused'), { code }));

describe('storableText', () => {
  it('replaces NUL and lone surrogates with U+FFFD and keeps everything else', () => {
    expect(storableText('a\u0000b')).toBe('a\ufffdb');
    expect(storableText('x\ud83d')).toBe('x\ufffd');
    expect(storableText('\ude00x')).toBe('\ufffdx');
    expect(storableText('ok 😀 漢字 \t\n')).toBe('ok 😀 漢字 \t\n');
  });

  it('does the same to every string and key of a JSON value', () => {
    expect(storableJson({ ['k\u0000']: ['v\ud800', 1, null, { n: 'a\u0000' }] })).toEqual({
      'k\ufffd': ['v\ufffd', 1, null, { n: 'a\ufffd' }],
    });
  });
});

describe('isPermanentWriteError', () => {
  it.each(['22021', '22P05', '22001', '23505', 'SQLITE_CONSTRAINT_PRIMARYKEY', 'SQLITE_TOOBIG'])(
    '%s is refused data: never retried',
    (code) => {
      expect(isPermanentWriteError(failed(code))).toBe(true);
    },
  );
  it.each(['08006', '57P01', '40001', '42P01', 'SQLITE_BUSY', 'ECONNREFUSED', undefined])(
    '%s may pass on a retry',
    (code) => {
      expect(isPermanentWriteError(failed(code))).toBe(false);
    },
  );
  it('retries errors that are not query failures', () => {
    expect(isPermanentWriteError(new Error('connection reset'))).toBe(false);
  });
});
