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

/** The seed's "mean : 1.9s -0.5 +0.3 s": mean, then the distances to p16 and p84. */
export function formatMeanSpread(stats: LatencyStats, unit: LatencyUnit = unitFor(stats)): string {
  const signed = (ms: number): string => `${ms < 0 ? '-' : '+'}${formatIn(Math.abs(ms), unit)}`;
  return `${formatIn(stats.mean, unit)} ${signed(stats.minus)} ${signed(stats.plus)} ${unit}`;
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
