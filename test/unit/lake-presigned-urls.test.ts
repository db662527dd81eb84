import { describe, expect, it } from 'vitest';
import { PresignedUrls } from '../../src/lake/presigned-urls.js';

const pfn = (index: number): string => `s3://lake/wavefier/chunk-${index}.hdf5`;

describe('presigned URLs kept for reuse', () => {
  it('hands a URL out again within its minute, and not after', () => {
    const urls = new PresignedUrls();
    urls.set('read', pfn(0), 3600, 'signed-0', 1_000);
    expect(urls.get('read', pfn(0), 3600, 1_000 + 58_999)).toBe('signed-0');
    expect(urls.get('read', pfn(0), 3600, 1_000 + 59_000)).toBeUndefined();
    // Another operation or lifetime is another URL.
    expect(urls.get('write', pfn(0), 3600, 1_001)).toBeUndefined();
    expect(urls.get('read', pfn(0), 60, 1_001)).toBeUndefined();
  });

  it('holds a minute of files, not every file signed since the start: a 4-hour stream at 1 Hz keeps ~60', () => {
    const urls = new PresignedUrls();
    for (let second = 0; second < 4 * 3600; second++) urls.set('read', pfn(second), 3600, `signed-${second}`, second * 1000);
    expect(urls.size).toBe(59);
    // The oldest kept was signed 58 s before the last one: still handed out half a second after that.
    const last = (4 * 3600 - 1) * 1000;
    expect(urls.get('read', pfn(4 * 3600 - 1), 3600, last + 500)).toBe(`signed-${4 * 3600 - 1}`);
    expect(urls.get('read', pfn(4 * 3600 - 59), 3600, last + 500)).toBe(`signed-${4 * 3600 - 59}`);
    expect(urls.get('read', pfn(4 * 3600 - 60), 3600, last)).toBeUndefined();
  });

  it('keeps at most 8,192 of a stream too fast for a minute to fit, dropping the oldest', () => {
    const urls = new PresignedUrls();
    for (let index = 0; index < 10_000; index++) urls.set('read', pfn(index), 3600, `signed-${index}`, 1_000 + index);
    expect(urls.size).toBe(8_192);
    expect(urls.get('read', pfn(10_000 - 8_192), 3600, 20_000)).toBe(`signed-${10_000 - 8_192}`);
    expect(urls.get('read', pfn(10_000 - 8_193), 3600, 20_000)).toBeUndefined();
  });

  it('signs a file again at the end of the order, so that its new URL outlives those signed before it', () => {
    const urls = new PresignedUrls();
    urls.set('read', pfn(0), 3600, 'first', 0);
    urls.set('read', pfn(1), 3600, 'signed-1', 30_000);
    urls.set('read', pfn(0), 3600, 'again', 60_000);
    // At 95 s pfn(1)'s minute is over, pfn(0)'s second signature still in its own.
    urls.set('read', pfn(2), 3600, 'signed-2', 95_000);
    expect(urls.size).toBe(2);
    expect(urls.get('read', pfn(0), 3600, 95_000)).toBe('again');
    expect(urls.get('read', pfn(1), 3600, 95_000)).toBeUndefined();
  });
});
