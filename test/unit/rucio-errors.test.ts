import { describe, expect, it } from 'vitest';
import { rucioErrorFor } from '../../src/rucio/errors.js';
import { ChecksumMismatchError } from '../../src/rucio/index.js';

describe('ChecksumMismatchError', () => {
  it('names each distinct corrupt read once, with how many times it was seen', () => {
    const read = { pfn: 's3://lake/b/k', rse: 'LAKE_S3', adler32: '0badf00d', md5: 'a'.repeat(32), bytes: 45376 };
    const error = new ChecksumMismatchError('wavefier:chunk-1', { adler32: '12345678', bytes: 45376 }, [
      read,
      read,
      { ...read, rse: 'LAKE_POSIX', adler32: 'deadbeef' },
    ]);
    expect(error.message).toBe(
      'download wavefier:chunk-1 failed: every replica is corrupt (catalog adler32 12345678, 45376 bytes; ' +
        'read LAKE_S3: adler32 0badf00d, 45376 bytes (2 reads); LAKE_POSIX: adler32 deadbeef, 45376 bytes); ' +
        'the stored objects differ from what was registered, re-upload the file or repair the RSE',
    );
  });
});

describe('whether a Rucio failure is worth repeating (the errors\' retryable field)', () => {
  it('says yes for server failures and overload, no for what the request itself got wrong', () => {
    const retryable = (status: number, exceptionClass?: string): boolean => rucioErrorFor({ operation: 'x', status, exceptionClass }).retryable;
    expect(retryable(500)).toBe(true);
    expect(retryable(500, 'DatabaseException')).toBe(true);
    expect(retryable(503, 'ServiceUnavailable')).toBe(true);
    expect(retryable(502)).toBe(true);
    expect(retryable(404, 'DataIdentifierNotFound')).toBe(false);
    expect(retryable(401, 'CannotAuthenticate')).toBe(false);
    expect(retryable(401, 'AccessDenied')).toBe(false);
    expect(retryable(409, 'UnsupportedOperation')).toBe(false);
    expect(retryable(400, 'InvalidObject')).toBe(false);
    expect(retryable(418)).toBe(false);
  });
});
