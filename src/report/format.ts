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

/** "2 s", "0.3 s", "300 ms": a threshold as people write it, without trailing zeros. */
export function formatThreshold(ms: number, unit: LatencyUnit): string {
  return `${formatIn(ms, unit).replace(/(\.\d*?)0+$/, '$1').replace(/\.$/, '')} ${unit}`;
}

/**
 * "1.85 -0.45 +0.35 s": the median, then how far below it p16 and above it p84 lie, in the seed
 * slides' "x -a +b" style. Both distances are non-negative by construction, whatever the skew.
 */
export function formatSpread(stats: LatencyStats, unit: LatencyUnit = unitFor(stats)): string {
  return `${formatIn(stats.median, unit)} -${formatIn(stats.belowMedian, unit)} +${formatIn(stats.aboveMedian, unit)} ${unit}`;
}

/**
 * Labels for offsets from a window origin at the precision the window width needs, so that every
 * window gets its own label: "+h:mm" for whole-minute windows (10 min: +0:00, +0:10, +0:20), "+m:ss"
 * for whole seconds (30 s: +0:00, +0:30, +1:00), "+h:mm:ss" once such a run passes an hour, and
 * decimals of a second for narrower windows (500 ms: +0:00.0, +0:00.5). `pattern` names the format
 * for a column header.
 */
export function offsetLabels(stepMs: number, spanMs: number): { pattern: string; label: (offsetMs: number) => string } {
  if (stepMs % 60_000 === 0) {
    return {
      pattern: 'h:mm',
      label: (ms) => {
        const minutes = Math.round(ms / 60_000);
        const abs = Math.abs(minutes);
        return `${minutes < 0 ? '-' : '+'}${Math.floor(abs / 60)}:${String(abs % 60).padStart(2, '0')}`;
      },
    };
  }
  const decimals = stepMs % 1000 === 0 ? 0 : stepMs % 100 === 0 ? 1 : stepMs % 10 === 0 ? 2 : 3;
  const withHours = Math.abs(spanMs) >= 3_600_000;
  return {
    pattern: `${withHours ? 'h:mm:ss' : 'm:ss'}${decimals > 0 ? `.${'s'.repeat(decimals)}` : ''}`,
    label: (ms) => {
      const scale = 10 ** decimals;
      const units = Math.round((Math.abs(ms) / 1000) * scale);
      const seconds = Math.floor(units / scale) % 60;
      const fraction = decimals > 0 ? `.${String(units % scale).padStart(decimals, '0')}` : '';
      const totalMinutes = Math.floor(units / scale / 60);
      const head = withHours ? `${Math.floor(totalMinutes / 60)}:${String(totalMinutes % 60).padStart(2, '0')}` : String(totalMinutes);
      return `${ms < 0 && units > 0 ? '-' : '+'}${head}:${String(seconds).padStart(2, '0')}${fraction}`;
    },
  };
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
