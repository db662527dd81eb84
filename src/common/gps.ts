/**
 * GPS time: seconds since 1980-01-06T00:00:00Z, without leap seconds. Unix time is 18 s behind GPS
 * since 2017-01-01 (the last leap second); earlier offsets are in the table for completeness of
 * conversions of historical data (GWOSC O1/O2 file names are GPS).
 */

const gpsEpochUnixMs = Date.UTC(1980, 0, 6);

// Unix times (ms) at which the GPS-UTC offset increased, with the offset from then on.
const leapSeconds: readonly (readonly [number, number])[] = [
  [Date.UTC(1981, 6, 1), 1],
  [Date.UTC(1982, 6, 1), 2],
  [Date.UTC(1983, 6, 1), 3],
  [Date.UTC(1985, 6, 1), 4],
  [Date.UTC(1988, 0, 1), 5],
  [Date.UTC(1990, 0, 1), 6],
  [Date.UTC(1991, 0, 1), 7],
  [Date.UTC(1992, 6, 1), 8],
  [Date.UTC(1993, 6, 1), 9],
  [Date.UTC(1994, 6, 1), 10],
  [Date.UTC(1996, 0, 1), 11],
  [Date.UTC(1997, 6, 1), 12],
  [Date.UTC(1999, 0, 1), 13],
  [Date.UTC(2006, 0, 1), 14],
  [Date.UTC(2009, 0, 1), 15],
  [Date.UTC(2012, 6, 1), 16],
  [Date.UTC(2015, 6, 1), 17],
  [Date.UTC(2017, 0, 1), 18],
];

function offsetAtUnixMs(unixMs: number): number {
  let offset = 0;
  for (const [since, value] of leapSeconds) if (unixMs >= since) offset = value;
  return offset;
}

/** GPS seconds (fractional) for a Unix time in milliseconds. */
export function unixMsToGps(unixMs: number): number {
  return (unixMs - gpsEpochUnixMs) / 1000 + offsetAtUnixMs(unixMs);
}

/** Unix time in milliseconds for GPS seconds. */
export function gpsToUnixMs(gps: number): number {
  const approx = gpsEpochUnixMs + gps * 1000;
  return approx - offsetAtUnixMs(approx - 18_000) * 1000;
}
