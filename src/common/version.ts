import { readFileSync } from 'node:fs';

let cached: string | undefined;

/**
 * The package version, read once from package.json next to dist/ or src/: the CLI's --version, and
 * the run_started lines of both sides, so that a report names the versions that wrote its logs.
 */
export function packageVersion(): string {
  if (cached !== undefined) return cached;
  const raw: unknown = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
  cached = typeof raw === 'object' && raw !== null && 'version' in raw && typeof raw.version === 'string' ? raw.version : '0.0.0';
  return cached;
}
