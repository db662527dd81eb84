import type { LatencyStats } from './report-types.js';

const countFormat = new Intl.NumberFormat('en-US');

/** 14400 → "14,400". */
export function formatCount(value: number): string {
  return countFormat.format(value);
}

export function plural(count: number, noun: string): string {
  return `${formatCount(count)} ${count === 1 ? noun : `${noun}s`}`;
}

export type LatencyUnit = 'ms' | 's';

/** Seconds once the typical value reaches a second (a real lake), milliseconds below (loopback). */
export function unitFor(stats: LatencyStats): LatencyUnit {
  return Math.abs(stats.median) >= 1000 ? 's' : 'ms';
}

/** A latency in `unit` with about three significant digits, without the unit. */
export function formatIn(ms: number, unit: LatencyUnit): string {
  if (!Number.isFinite(ms)) return '-';
  const value = unit === 's' ? ms / 1000 : ms;
  const abs = Math.abs(value);
  return value.toFixed(abs < 10 ? 2 : abs < 100 ? 1 : 0);
}

export function formatLatency(ms: number, unit: LatencyUnit): string {
  return `${formatIn(ms, unit)} ${unit}`;
}

/**
 * "1.85 -0.45 +0.35 s": the median, then how far below it p16 and above it p84 lie, in the seed
 * slides' "x -a +b" style. Both distances are non-negative by construction, whatever the skew.
 */
export function formatSpread(stats: LatencyStats, unit: LatencyUnit = unitFor(stats)): string {
  return `${formatIn(stats.median, unit)} -${formatIn(stats.belowMedian, unit)} +${formatIn(stats.aboveMedian, unit)} ${unit}`;
}

/** Milliseconds since the window origin as "+h:mm". */
export function formatOffset(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  const sign = minutes < 0 ? '-' : '+';
  const abs = Math.abs(minutes);
  return `${sign}${Math.floor(abs / 60)}:${String(abs % 60).padStart(2, '0')}`;
}

export function formatTime(epochMs: number | undefined): string {
  return epochMs === undefined || !Number.isFinite(epochMs) ? '-' : new Date(epochMs).toISOString().replace('.000Z', 'Z');
}

/** A window width for people: "10 min", "1 h", "90 s". */
export function formatWindow(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  if (ms % 60_000 === 0) return `${ms / 60_000} min`;
  if (ms % 1000 === 0) return `${ms / 1000} s`;
  return `${ms} ms`;
}
