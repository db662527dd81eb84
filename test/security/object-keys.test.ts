import { join, resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeKeyPath, encodeKeyPath, objectKeyProblem } from '../../src/lake/object-keys.js';

/** Keys built from the pieces an attacker would combine, deterministic per seed. */
function hostileKeys(count: number): string[] {
  const pieces = ['.', '..', '...', '/', '//', '\\', '%', '%2E', '%2e%2E', '%252E', 'a', 'Zz9', '．', '․', '\u0000', '\n', 'é', '𝔸', '._S3rver_object', 'x'.repeat(90)];
  let state = 12_345;
  const next = (n: number): number => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return state % n;
  };
  const keys: string[] = [];
  for (let i = 0; i < count; i++) {
    let key = '';
    const length = 1 + next(12);
    for (let j = 0; j < length; j++) key += pieces[next(pieces.length)] ?? '';
    keys.push(key);
  }
  return keys;
}

describe('object keys → paths, by construction', () => {
  const root = resolve('/srv/lake/s3/wavefier-lake');
  const keys = [...hostileKeys(5000), '..', '.', '/..', '../x', 'a/../../b', 'a'.repeat(1024), `${'é'.repeat(300)}/..`, 'dir/', '/', 'a//b', '//'];

  it('never yields a component that is empty, `.` or `..`, or longer than a file name may be', () => {
    for (const key of keys) {
      const parts = encodeKeyPath(key).split('/');
      const last = parts.pop() ?? '';
      // s3rver appends `._S3rver_<resource>` to the last component, so an empty last one is a file name too.
      for (const part of [...parts, `${last}._S3rver_object`]) {
        expect(part === '' || part === '.' || part === '..', `${JSON.stringify(key)} → ${JSON.stringify(part)}`).toBe(false);
        expect(Buffer.byteLength(part) + '.1234567-1234567890.partial'.length).toBeLessThanOrEqual(255);
      }
      const path = join(root, ...parts, `${last}._S3rver_object`);
      expect(path.startsWith(root + sep), JSON.stringify(key)).toBe(true);
    }
  });

  it('is injective (decodes back to the key) and leaves ordinary keys as they were', () => {
    const seen = new Map<string, string>();
    for (const key of keys) {
      const encoded = encodeKeyPath(key);
      expect(decodeKeyPath(encoded)).toBe(key);
      const other = seen.get(encoded);
      if (other !== undefined) expect(other).toBe(key);
      seen.set(encoded, key);
    }
    expect(encodeKeyPath('wavefier/3f/a2/wavefier-run-000001.hdf5')).toBe('wavefier/3f/a2/wavefier-run-000001.hdf5');
  });

  it('is prefix-preserving (s3rver lists by walking directories under the encoded prefix)', () => {
    for (const key of keys.slice(0, 1000)) {
      const encoded = encodeKeyPath(key);
      const chars = Array.from(key);
      for (let n = 1; n < chars.length; n++) expect(encoded.startsWith(encodeKeyPath(chars.slice(0, n).join('')))).toBe(true);
    }
  });

  it("refuses '.' and '..' segments in every spelling, NUL and control characters, and keys over 1024 bytes", () => {
    for (const key of ['..', 'x/../y', 'x/./y', 'x/%2E%2E/y', 'x/%2e%2E', 'x/%252E%252E/y', 'x\\..\\y', '..\\', 'x/．．/y', 'x/\uFE52\uFE52/y', 'x/ .. /y']) {
      expect(objectKeyProblem(key), key).toMatchObject({ code: 'InvalidArgument' });
    }
    expect(objectKeyProblem('a\u0000b')).toMatchObject({ code: 'InvalidArgument' });
    expect(objectKeyProblem('a\u001b[2Jb')).toMatchObject({ code: 'InvalidArgument' });
    expect(objectKeyProblem('é'.repeat(513))).toMatchObject({ code: 'KeyTooLongError' });
    for (const key of ['a', 'x..y/z', '...', 'dir/', 'a//b', 'a'.repeat(1024), 'wavefier/3f/a2/chunk.hdf5']) expect(objectKeyProblem(key), key).toBeUndefined();
  });
});
