import { UsageError } from './errors.js';

const units: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/**
 * Parses a human duration ("500ms", "1s", "1.5s", "4h", "1h30m") into milliseconds. Used for every
 * time flag so they all read alike. A unit is required: `--duration 4` could mean 4 s or 4 h, and a
 * guess is a rehearsal of the wrong length; only 0 means the same in every unit.
 */
export function parseDuration(text: string, what = 'duration'): number {
  const trimmed = text.trim();
  if (/^0+(\.0+)?$/.test(trimmed)) return 0;
  if (/^\d+(\.\d+)?$/.test(trimmed)) {
    throw new UsageError(`invalid ${what} '${text}': give a unit, e.g. ${trimmed}s, ${trimmed}m or ${trimmed}h (a bare number is ambiguous)`);
  }
  const part = /(\d+(?:\.\d+)?)(ms|min|s|m|h|d)/gy;
  let total = 0;
  let consumed = 0;
  for (let match = part.exec(trimmed); match !== null; match = part.exec(trimmed)) {
    const [, amount, unit] = match;
    total += Number(amount) * (units[unit ?? ''] ?? Number.NaN);
    consumed = part.lastIndex;
  }
  if (consumed === 0 || consumed !== trimmed.length || !Number.isFinite(total)) {
    throw new UsageError(
      `invalid ${what} '${text}': use a number with a unit, e.g. 500ms, 30s, 10m, 4h or 1h30m`,
    );
  }
  return total;
}

/** Formats milliseconds compactly for people ("850 ms", "12.3 s", "1 h 05 m"). */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  const abs = Math.abs(ms);
  if (abs < 1000) return `${ms.toFixed(abs < 10 ? 2 : abs < 100 ? 1 : 0)} ms`;
  if (abs < 60_000) return `${(ms / 1000).toFixed(abs < 10_000 ? 2 : 1)} s`;
  const totalSeconds = Math.round(ms / 1000);
  const hours = Math.floor(totalSeconds / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const seconds = totalSeconds % 60;
  if (hours > 0) return `${hours} h ${String(minutes).padStart(2, '0')} m`;
  return `${minutes} m ${String(seconds).padStart(2, '0')} s`;
}
