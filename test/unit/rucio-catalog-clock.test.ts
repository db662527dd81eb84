import { describe, expect, it } from 'vitest';
import { CatalogClock } from '../../src/rucio/index.js';

const second = (epochSeconds: number): string => new Date(epochSeconds * 1000).toUTCString();

describe("the catalog's clock from Date headers", () => {
  it('knows nothing before an answer with a Date header, and ignores answers without one', () => {
    const clock = new CatalogClock();
    expect(clock.offset()).toBeUndefined();
    clock.observe(1000, 1010, undefined);
    clock.observe(1000, 1010, 'not a date');
    expect(clock.offset()).toBeUndefined();
  });

  it('bounds the offset by each answer and narrows it as answers come at other fractions of a second', () => {
    // The server runs 300 ms ahead; requests take 10 ms and the server answers half-way.
    const ahead = 300;
    const clock = new CatalogClock();
    for (const sentAt of [1_000_000_100, 1_000_000_697, 1_000_002_693, 1_000_003_905, 1_000_004_995]) {
      const serverTime = sentAt + 5 + ahead;
      clock.observe(sentAt, sentAt + 10, second(Math.floor(serverTime / 1000)));
      const offset = clock.offset();
      expect(offset?.low).toBeLessThanOrEqual(ahead);
      expect(offset?.high).toBeGreaterThanOrEqual(ahead);
    }
    const offset = clock.offset();
    expect(offset?.samples).toBe(5);
    // Answers just after and just before a second boundary bound it from both sides: about a round trip.
    expect((offset?.high ?? 0) - (offset?.low ?? 0)).toBeLessThanOrEqual(20);
  });

  it('starts again when an answer contradicts the recent ones (a clock step, another server)', () => {
    const clock = new CatalogClock();
    clock.observe(1_000_000_000, 1_000_000_010, second(1_000_000));
    clock.observe(1_000_000_500, 1_000_000_510, second(1_000_000));
    expect(clock.offset()?.samples).toBe(2);
    // Now 10 s ahead: no overlap with [-10, 500].
    clock.observe(1_000_001_000, 1_000_001_010, second(1_000_011));
    expect(clock.offset()).toMatchObject({ samples: 1, low: 9_990, high: 11_000 });
  });
});
