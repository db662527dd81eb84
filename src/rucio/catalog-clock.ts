/**
 * The catalog server's clock as seen from here, learned from the `Date` header of its answers. A
 * header says the server's time was in [D, D + 1 s) at some moment between sending the request (s)
 * and receiving the answer (r), so its offset (server − local) lies in [D − r, D + 1 s − s]. Each
 * answer narrows the interval; answers at different fractions of a second narrow it to about a round
 * trip. Only the recent answers count (clocks drift, a load balancer may answer from several hosts),
 * and an answer that contradicts them starts the interval again. The downloader sizes its poll
 * look-back from the lower bound: never later than the server's true time, so nothing is skipped.
 */
export interface ClockOffset {
  /** server − local, at least (ms). */
  low: number;
  /** server − local, at most (ms). */
  high: number;
  /** Answers the interval rests on. */
  samples: number;
}

/** Answers remembered: a few minutes of polls. */
const remembered = 256;

export class CatalogClock {
  private readonly lows: number[] = [];
  private readonly highs: number[] = [];
  private cached: ClockOffset | undefined;

  /** An answer sent at `sentAt`, received at `receivedAt` (local epoch ms), with its Date header. */
  observe(sentAt: number, receivedAt: number, dateHeader: string | string[] | undefined): void {
    const text = Array.isArray(dateHeader) ? dateHeader[0] : dateHeader;
    if (text === undefined) return;
    const date = Date.parse(text);
    if (!Number.isFinite(date) || receivedAt < sentAt) return;
    const low = date - receivedAt;
    const high = date + 1000 - sentAt;
    const current = this.offset();
    // Disjoint from what the recent answers say: the clock stepped or another host answered.
    if (current !== undefined && (low > current.high || high < current.low)) {
      this.lows.length = 0;
      this.highs.length = 0;
    }
    this.lows.push(low);
    this.highs.push(high);
    if (this.lows.length > remembered) {
      this.lows.shift();
      this.highs.shift();
    }
    this.cached = undefined;
  }

  /** What the recent answers say about the offset, or undefined before the first answer with a Date header. */
  offset(): ClockOffset | undefined {
    if (this.cached !== undefined || this.lows.length === 0) return this.cached;
    let low = Number.NEGATIVE_INFINITY;
    let high = Number.POSITIVE_INFINITY;
    for (const value of this.lows) low = Math.max(low, value);
    for (const value of this.highs) high = Math.min(high, value);
    this.cached = { low, high, samples: this.lows.length };
    return this.cached;
  }
}
