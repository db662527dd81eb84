/**
 * Secrets (passwords, tokens, S3 keys) must never reach a log line or an error message.
 * Everything that serialises foreign objects for diagnostics goes through here.
 */

const secretKeyPattern =
  /pass(word)?|secret|token|authorization|credential|x-rucio-password|x-amz-security-token|access[-_]?key|private[-_]?key|signature/i;

const redactedValue = '[redacted]';

function isSecretKey(key: string): boolean {
  return secretKeyPattern.test(key);
}

/** A deep copy of `value` with every property whose name looks secret replaced. */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    out[key] = isSecretKey(key) ? redactedValue : redact(inner, depth + 1);
  }
  return out;
}

/** Removes credentials embedded in URLs (`redis://:pw@host`, `https://user:pw@host`) and signed query strings. */
export function redactUrl(url: string): string {
  return url
    .replace(/(\/\/)([^/@\s]*)@/g, (_m, slashes: string, userinfo: string) => {
      const user = userinfo.split(':')[0] ?? '';
      return `${slashes}${user === '' ? '' : `${user}:`}${redactedValue}@`;
    })
    .replace(/([?&](?:X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token|Signature|sig)=)[^&\s]+/gi, `$1${redactedValue}`);
}
