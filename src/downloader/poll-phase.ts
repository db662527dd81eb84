import { parseChunkName } from '../strain/chunk-name.js';

/**
 * Period and phase of a stream of files, learned from what the polls saw: the phase-locked poll
 * schedule asks the catalog just after each predicted arrival instead of every interval.
 *
 * Each file with an IGWN name has a position in the stream, k = GPS start / duration. The model
 * fits a line `nominal(k) = origin + k × period` through either
 * - the files' own due times (`t_avail`, an attribute of a wavefier chunk, known once a worker has
 *   verified it): exact for a paced stream, whatever its upload latency; or
 * - when the files carry no due times (the workers say so), the times of the polls that first saw each file: coarse at first
 *   (a poll every interval), exact enough once the polls come right after the arrivals.
 * The fit is robust (Theil–Sen: the median of pairwise slopes), so a late file or a catch-up burst
 * does not tilt it. When the recent files stop fitting the line (a new rate, a restarted producer)
 * the older ones are dropped and the line is learned again.
 */

export interface StreamFit {
  /** Milliseconds between consecutive positions. */
  period: number;
  /** nominal(k) = origin + (k − k0) × period. */
  origin: number;
  k0: number;
  /** What the line goes through. */
  basis: 'due' | 'seen';
  /** How far the files lie from the line (median absolute residual), ms. */
  spread: number;
  /** Files the line was fitted to. */
  count: number;
  /** Median time between the poll that missed a file and the one that saw it: how coarse the seen times are. */
  bracket: number;
}

interface Observation {
  k: number;
  /** Start of the last poll that did not see it; undefined when no poll before had the chance. */
  notBefore: number | undefined;
  /** Start of the poll that saw it first. */
  seenBy: number;
}

/** Files kept for the fit: enough for a robust line, few enough to follow a change quickly. */
const window = 24;
/**
 * Files a line needs before it is trusted: two due times of a paced stream give its period exactly
 * (the next ones check it); seen times are coarse and need more.
 */
const minimumDue = 2;
const minimumSeen = 8;
/** Consecutive files off the line after which the older ones are dropped (a new rate or phase). */
const offLineToRefit = 3;

/** Position of a file in its stream from its IGWN name; undefined for names without the convention. */
export function streamPosition(name: string): number | undefined {
  const parsed = parseChunkName(name);
  return parsed === undefined ? undefined : parsed.gpsStart / parsed.duration;
}

export class ArrivalModel {
  private seenFiles: Observation[] = [];
  /** Due times come from the workers, later than the files are seen: kept apart, by position. */
  private dueTimes: { k: number; t: number }[] = [];
  /** Whether a verified file came without a due time: only then are seen times fitted. */
  private filesWithoutDue = false;
  private offLine = 0;
  private cached: StreamFit | undefined;
  private stale = true;

  /** A poll that started at `seenBy` found the file at position `k`; the poll before it started at `notBefore`. */
  seen(k: number, notBefore: number | undefined, seenBy: number): void {
    const observation: Observation = { k, notBefore, seenBy };
    const fit = this.fit();
    // A line through due times is judged by due times (see due()): a late file does not move it.
    if (fit?.basis === 'seen') this.judge(this.fitsSeen(fit, observation));
    this.seenFiles.push(observation);
    if (this.seenFiles.length > window) this.seenFiles.splice(0, this.seenFiles.length - window);
    this.stale = true;
  }

  /**
   * A verified file that carries no due time (not a wavefier chunk): this stream can only be fitted
   * through seen times. Until one comes, the due times of the workers' answers are waited for: seen
   * times while the workers are behind, or while a start-up backlog drains, suggest a wrong period.
   */
  withoutDue(): void {
    this.filesWithoutDue = true;
    this.stale = true;
  }

  /** The due time (t_avail) of the file at position `k`, once a worker has read it. */
  due(k: number, t: number): void {
    const fit = this.fit();
    if (fit?.basis === 'due') this.judge(Math.abs(t - (fit.origin + (k - fit.k0) * fit.period)) <= tolerance(fit));
    this.dueTimes.push({ k, t });
    if (this.dueTimes.length > window) this.dueTimes.splice(0, this.dueTimes.length - window);
    this.stale = true;
  }

  /** Counts files off the line in a row; after a few, the stream has changed and the older files go. */
  private judge(onLine: boolean): void {
    this.offLine = onLine ? 0 : this.offLine + 1;
    if (this.offLine < offLineToRefit) return;
    this.seenFiles = this.seenFiles.slice(-offLineToRefit);
    this.dueTimes = this.dueTimes.slice(-offLineToRefit);
    this.offLine = 0;
  }

  /** The line through the recent files, or undefined when there are too few of them. */
  fit(): StreamFit | undefined {
    if (!this.stale) return this.cached;
    this.stale = false;
    const withTiming = this.seenFiles.filter((o) => o.notBefore !== undefined);
    const widths = withTiming.map((o) => o.seenBy - (o.notBefore ?? o.seenBy));
    const bracket = widths.length === 0 ? 0 : median(widths);
    if (this.dueTimes.length >= minimumDue) this.cached = robustLine(this.dueTimes, 'due', bracket);
    else if (this.filesWithoutDue && this.dueTimes.length === 0) {
      this.cached = robustLine(
        withTiming.map((o) => ({ k: o.k, t: o.seenBy })),
        'seen',
        bracket,
      );
    } else this.cached = undefined;
    return this.cached;
  }

  /** Whether a file's seen time lies where a line through seen times expects it. */
  private fitsSeen(fit: StreamFit, observation: Observation): boolean {
    const expected = fit.origin + (observation.k - fit.k0) * fit.period;
    const width = observation.notBefore === undefined ? Number.POSITIVE_INFINITY : observation.seenBy - observation.notBefore;
    return Math.abs(observation.seenBy - expected) <= Math.max(3 * fit.spread, tolerance(fit), width);
  }

  /** Smallest offset (seen − nominal) of the recent files with timing information: where arrivals begin. */
  earliestOffset(fit: StreamFit): number | undefined {
    let earliest: number | undefined;
    for (const o of this.seenFiles) {
      if (o.notBefore === undefined) continue;
      const offset = o.seenBy - (fit.origin + (o.k - fit.k0) * fit.period);
      if (earliest === undefined || offset < earliest) earliest = offset;
    }
    return earliest;
  }

  /** The highest position seen so far. */
  get lastK(): number | undefined {
    return this.seenFiles.reduce<number | undefined>((max, o) => (max === undefined || o.k > max ? o.k : max), undefined);
  }
}

/** How far off the line a file may lie and still belong to the stream. */
export function tolerance(fit: StreamFit): number {
  return Math.max(5, 0.05 * fit.period, 2 * fit.spread);
}

/** Theil–Sen line through (k, t): median of pairwise slopes, then median intercept. */
function robustLine(points: { k: number; t: number }[], basis: 'due' | 'seen', bracket: number): StreamFit | undefined {
  if (points.length < (basis === 'due' ? minimumDue : minimumSeen)) return undefined;
  const k0 = points[0]?.k ?? 0;
  // Refitted after every verified chunk: typed arrays sort numerically without a comparator call per pair.
  const slopes = new Float64Array((points.length * (points.length - 1)) / 2);
  let pairs = 0;
  for (let i = 0; i < points.length; i++) {
    for (let j = i + 1; j < points.length; j++) {
      const a = points[i];
      const b = points[j];
      if (a === undefined || b === undefined || a.k === b.k) continue;
      slopes[pairs++] = (b.t - a.t) / (b.k - a.k);
    }
  }
  if (pairs === 0) return undefined;
  const period = median(slopes.subarray(0, pairs));
  if (!(period > 0)) return undefined;
  const origin = median(points.map((p) => p.t - (p.k - k0) * period));
  const spread = median(points.map((p) => Math.abs(p.t - origin - (p.k - k0) * period)));
  return { period, origin, k0, basis, spread, count: points.length, bracket };
}

/**
 * Whether the files follow the line closely enough to poll at its predictions. Due times of a paced
 * stream lie on it exactly. Seen times scatter over the time between polls, so they may scatter that
 * much; `strict` (after a lock was lost) asks for a scatter that only polls right after the arrivals give.
 */
export function isRegular(fit: StreamFit, strict: boolean): boolean {
  if (fit.basis === 'due') return fit.spread <= Math.max(2, 0.02 * fit.period);
  const allowed = strict ? Math.max(10, 0.1 * fit.period) : Math.max(10, 0.1 * fit.period, 0.3 * fit.bracket);
  return fit.spread <= allowed;
}

function median(values: ArrayLike<number>): number {
  const sorted = Float64Array.from(values).sort();
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[middle] ?? Number.NaN) : ((sorted[middle - 1] ?? Number.NaN) + (sorted[middle] ?? Number.NaN)) / 2;
}
