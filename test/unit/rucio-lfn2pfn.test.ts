import { describe, expect, it } from 'vitest';
import { lfn2path, lfn2pfn, pfnFor } from '../../src/rucio/index.js';

// The transcript's LOCAL_POSIX protocol (real Rucio 1.31.7 answers).
const posix = { scheme: 'file', hostname: 'localhost', port: 0, prefix: '/srv/rucio/rse/LOCAL_POSIX/' };

describe('lfn2pfn (hash), as the real server computes it', () => {
  it.each([
    ['file1.txt', 'file://localhost/srv/rucio/rse/LOCAL_POSIX/user/root/41/04/file1.txt'],
    ['file2.txt', 'file://localhost/srv/rucio/rse/LOCAL_POSIX/user/root/78/f7/file2.txt'],
    ['file3.bin', 'file://localhost/srv/rucio/rse/LOCAL_POSIX/user/root/c1/c9/file3.bin'],
    ['single.txt', 'file://localhost/srv/rucio/rse/LOCAL_POSIX/user/root/db/78/single.txt'],
  ])('user.root:%s', (name, pfn) => {
    expect(lfn2pfn('user.root', name, posix)).toBe(pfn);
  });

  it('keeps dots of scopes that do not start with user or group', () => {
    expect(lfn2path('wavefier', 'x.hdf5')).toMatch(/^wavefier\/[0-9a-f]{2}\/[0-9a-f]{2}\/x\.hdf5$/);
    expect(lfn2path('VIRGO.EGO', 'x')).toMatch(/^VIRGO\.EGO\//);
    expect(lfn2path('group.det.ops', 'x')).toMatch(/^group\/det\/ops\//);
  });

  it('supports identity', () => {
    expect(lfn2path('user.root', 'a/b.txt', 'identity')).toBe('user/root/a/b.txt');
  });

  it('includes the port unless it is 0, and normalises the prefix slashes', () => {
    expect(pfnFor({ scheme: 's3', hostname: '127.0.0.1', port: 9000, prefix: 'wavefier-lake' }, 'p/x')).toBe(
      's3://127.0.0.1:9000/wavefier-lake/p/x',
    );
    expect(pfnFor({ scheme: 'https', hostname: 'h', port: 443, prefix: '/a/' }, 'p')).toBe('https://h:443/a/p');
  });
});
