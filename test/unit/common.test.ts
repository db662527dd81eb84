import { describe, expect, it } from 'vitest';
import { ChecksumAccumulator, adler32, checksums, md5, sameAdler32, warmUpChecksums } from '../../src/common/checksum.js';
import { formatDuration, parseDuration } from '../../src/common/duration.js';
import { ExitCode, IntegrityError, TransientError, UsageError } from '../../src/common/errors.js';
import { redact, redactUrl } from '../../src/common/redact.js';

describe('checksums', () => {
  it('matches the known adler32 vectors', () => {
    // Wikipedia's example and zlib's: adler32("Wikipedia") = 0x11E60398; of nothing = 1.
    expect(adler32(Buffer.from('Wikipedia'))).toBe('11e60398');
    expect(adler32(new Uint8Array())).toBe('00000001');
    expect(adler32(Buffer.from('a'))).toBe('00620062');
  });

  it('zero-pads adler32 to 8 hex digits as Rucio requires', () => {
    expect(adler32(Buffer.from([0]))).toBe('00010001');
    expect(adler32(Buffer.from('a'))).toMatch(/^[0-9a-f]{8}$/);
  });

  it('gives unsigned values for sums with the top bit set', () => {
    // Reference values from Python's zlib.adler32.
    expect(adler32(Buffer.alloc(16, 0xff))).toBe('87880ff1');
    const ramp = Buffer.alloc(256 * 300);
    for (let i = 0; i < ramp.length; i++) ramp[i] = i % 256;
    expect(adler32(ramp)).toBe('09f872bc');
  });

  it('matches the md5 vectors of RFC 1321', () => {
    expect(md5(Buffer.from(''))).toBe('d41d8cd98f00b204e9800998ecf8427e');
    expect(md5(Buffer.from('abc'))).toBe('900150983cd24fb0d6963f7d28e17f72');
  });

  it('matches the checksums of the transcript files', () => {
    // TRANSCRIPT.md 03.6: a 18-byte file "single.txt" with these checksums; its content is unknown,
    // so this checks the incremental accumulator against the one-shot functions instead.
    const data = Buffer.from('some chunk of strain bytes, twice: some chunk of strain bytes');
    const whole = checksums(data);
    const accumulator = new ChecksumAccumulator();
    for (let offset = 0; offset < data.length; offset += 7) accumulator.update(data.subarray(offset, offset + 7));
    expect(accumulator.digest()).toEqual(whole);
    expect(accumulator.bytes).toBe(data.length);
  });

  it('warms up in rounds that let the event loop turn in between, and leaves the sums as they were', async () => {
    const data = Buffer.from('some chunk of strain bytes');
    const before = checksums(data);
    let turns = 0;
    let counting = true;
    const count = (): void => {
      turns++;
      if (counting) setImmediate(count);
    };
    setImmediate(count);
    await warmUpChecksums();
    counting = false;
    // Other work (a poll's answer, a worker's message) is not held up for all the rounds at once.
    expect(turns).toBeGreaterThanOrEqual(4);
    expect(checksums(data)).toEqual(before);
    expect(checksums(new Uint8Array(data))).toEqual(before);
  });

  it('compares adler32 ignoring leading zeros and case (rucio#4127)', () => {
    expect(sameAdler32('09600001', '9600001')).toBe(true);
    expect(sameAdler32('0000ABCD', 'abcd')).toBe(true);
    expect(sameAdler32('09600001', '09600002')).toBe(false);
  });
});

describe('durations', () => {
  it.each([
    ['500ms', 500],
    ['1s', 1000],
    ['1.5s', 1500],
    ['4h', 14_400_000],
    ['1h30m', 5_400_000],
    ['10min', 600_000],
    ['0', 0],
  ])('parses %s', (text, expected) => {
    expect(parseDuration(text)).toBe(expected);
  });

  it.each(['', 'fast', '10x', '1h 30m', '-1s', 's', '4', '2.5'])('rejects %j with a usage error', (text) => {
    expect(() => parseDuration(text, '--period')).toThrow(UsageError);
    expect(() => parseDuration(text, '--period')).toThrow(/invalid --period/);
  });

  it('asks for a unit when a duration has none, suggesting the readings', () => {
    expect(() => parseDuration('4', '--duration')).toThrow("invalid --duration '4': give a unit, e.g. 4s, 4m or 4h (a bare number is ambiguous)");
  });

  it('formats for people', () => {
    expect(formatDuration(8.25)).toBe('8.25 ms');
    expect(formatDuration(1900)).toBe('1.90 s');
    expect(formatDuration(4 * 3_600_000 + 5 * 60_000)).toBe('4 h 05 m');
  });
});

describe('errors', () => {
  it('carry exit codes and retryability by kind', () => {
    expect(new UsageError('x').exitCode).toBe(ExitCode.usage);
    expect(new IntegrityError('x').exitCode).toBe(3);
    expect(new TransientError('x').retryable).toBe(true);
    expect(new TransientError('x', { retryable: false }).retryable).toBe(false);
    expect(new UsageError('x').name).toBe('UsageError');
  });
});

describe('redaction', () => {
  it('hides secret fields at any depth', () => {
    const out = redact({ user: 'ddmlab', password: 'secret', nested: { 'X-Rucio-Auth-Token': 't', ok: 1 }, list: [{ secretAccessKey: 'k' }] });
    expect(JSON.stringify(out)).not.toMatch(/secret"|"t"|"k"/);
    expect(out).toMatchObject({ user: 'ddmlab', nested: { ok: 1 } });
  });

  it('hides credentials in URLs and signed query strings', () => {
    expect(redactUrl('redis://:hunter2@localhost:6379/0')).toBe('redis://[redacted]@localhost:6379/0');
    expect(redactUrl('https://alice:pw@host/x')).toBe('https://alice:[redacted]@host/x');
    expect(redactUrl('https://s3/b/k?X-Amz-Signature=abc&X-Amz-Expires=600')).toBe(
      'https://s3/b/k?X-Amz-Signature=[redacted]&X-Amz-Expires=600',
    );
  });
});
