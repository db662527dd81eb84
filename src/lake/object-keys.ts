/**
 * Object keys of the lake's S3 storage: what a key may be, and where on disk it lives.
 *
 * Two independent defences keep every object inside its bucket directory. The gate refuses keys
 * that could only be an attack or a mistake (a `.` or `..` segment in any spelling, NUL and other
 * control characters, more than S3's 1024 bytes) before any file-system call. The layout then maps
 * every key to a path by construction: no component of an encoded key can be `.`, `..`, empty or
 * longer than a file name may be, so even a key the gate let through cannot name a path outside.
 */

/** S3's limit on the UTF-8 length of a key. */
export const maxKeyBytes = 1024;

export type KeyProblem = { code: 'KeyTooLongError' | 'InvalidArgument'; message: string };

// eslint-disable-next-line no-control-regex -- finding control characters is the point
const controlCharacter = /[\u0000-\u001f\u007f]/;

/** A segment that a decoder, a file system or a Unicode normalisation could read as `.` or `..`. */
function isDotSegment(segment: string): boolean {
  let text = segment;
  // Up to three more rounds of percent-decoding: `%252E%252E` is `..` to anything that decodes twice.
  for (let round = 0; round < 4; round++) {
    const normalised = text.normalize('NFKC').trim();
    if (normalised === '.' || normalised === '..') return true;
    if (!text.includes('%')) return false;
    try {
      const decoded = decodeURIComponent(text);
      if (decoded === text) return false;
      text = decoded;
    } catch {
      return false;
    }
  }
  return false;
}

/** Why the lake refuses `key` (already percent-decoded once, as S3 does), or undefined if it is fine. */
export function objectKeyProblem(key: string): KeyProblem | undefined {
  if (key === '') return { code: 'InvalidArgument', message: 'An object key must not be empty.' };
  if (Buffer.byteLength(key, 'utf8') > maxKeyBytes) {
    return { code: 'KeyTooLongError', message: `Your key is too long: at most ${maxKeyBytes} bytes of UTF-8.` };
  }
  if (controlCharacter.test(key)) {
    return { code: 'InvalidArgument', message: 'Object keys may not contain NUL or other control characters.' };
  }
  // A backslash is a separator to some clients and file systems: its segments are checked too.
  if (key.split(/[/\\]/).some(isDotSegment)) {
    return { code: 'InvalidArgument', message: "Object keys may not contain a '.' or '..' segment (in any encoding)." };
  }
  return undefined;
}

/** S3's bucket naming rules (the lake creates its buckets itself; this guards the layout). */
export function isSafeBucketName(bucket: string): boolean {
  return /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket) && !bucket.includes('..');
}

/**
 * Longest component of an encoded key, in bytes. A file name may have 255; s3rver appends
 * `._S3rver_metadata.json` and the lake `._S3rver_object.<pid>-<n>.partial`, so 200 leaves room.
 */
const maxComponentBytes = 200;
/** Joins two components that are one key segment split for length; `%` never appears unescaped otherwise. */
const continuation = '%+';
/** Stands for an empty segment; a lone `%` is no other key's encoding. */
const emptySegment = '%';

const escape = (ch: string): string => `%${ch.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`;

/**
 * The relative path (`/`-separated) where `key` lives inside its bucket directory. Unchanged for
 * ordinary keys (so objects stored before keep their place), otherwise percent-escaped: `%`, `\`
 * and control characters always, and a `.` that would start a path component. An empty segment
 * (`a//b`, a leading `/`) becomes the component `%`, and a segment longer than a file name may be
 * is split into components joined by a continuation mark. Injective, and prefix-preserving (the
 * encoding of a prefix of a key is a prefix of the key's encoding, and `/` stays `/`), which
 * s3rver's listing relies on.
 */
export function encodeKeyPath(key: string): string {
  let out = '';
  let componentBytes = 0;
  for (const ch of key) {
    if (ch === '/') {
      out += componentBytes > 0 ? '/' : `${emptySegment}/`;
      componentBytes = 0;
      continue;
    }
    if (componentBytes > 0 && componentBytes + Buffer.byteLength(ch, 'utf8') * 3 > maxComponentBytes) {
      out += `${continuation}/`;
      componentBytes = 0;
    }
    const unit = ch === '%' || ch === '\\' || controlCharacter.test(ch) || (ch === '.' && componentBytes === 0) ? escape(ch) : ch;
    out += unit;
    componentBytes += Buffer.byteLength(unit, 'utf8');
  }
  return out;
}

/** The key stored at `path` (the inverse of encodeKeyPath). */
export function decodeKeyPath(path: string): string {
  return path
    .replaceAll(`${continuation}/`, '')
    .split('/')
    .map((component) => (component === emptySegment ? '' : component.replace(/%([0-9A-F]{2})/g, (_match, hex: string) => String.fromCharCode(parseInt(hex, 16)))))
    .join('/');
}
