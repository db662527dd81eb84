import { describe, expect, it } from 'vitest';
import type { UploadChunkEvent } from '../../src/common/log-records.js';
import { RunStats, TimingSummary } from '../../src/uploader/run-stats.js';

const outcome = (event: 'uploaded' | 'failed', tAvail: number, tUploaded?: number): UploadChunkEvent => ({
  event,
  run: 'r1',
  seq: 0,
  name: 'V-V1_T-1000000000-1.hdf5',
  scope: 'wavefier',
  dataset: 'ds',
  rse: 'LAKE_S3',
  gps: 1_000_000_000,
  t_avail: tAvail,
  late: false,
  ...(tUploaded === undefined ? {} : { t_uploaded: tUploaded }),
});

describe('upload run statistics', () => {
  it('has no percentiles, rather than zeros, before the first value', () => {
    const summary = new TimingSummary();
    expect(summary.recent(1_000)).toEqual({});
    expect(summary.summary()).toEqual({});
  });

  it('keeps the last minute for the progress line and the whole run, with its maximum, for the summary', () => {
    const summary = new TimingSummary();
    for (let i = 1; i <= 100; i++) summary.add(i, i * 1000); // value i at i seconds
    // At 130 s the last minute holds the values added from 70 s on: 70..100.
    expect(summary.recent(130_000)).toEqual({ p50: 85, p99: 100 });
    expect(summary.summary()).toEqual({ p50: 50, p99: 99, max: 100 });
    // A spike shows in the last minute while it is in it; once it has left, the run's maximum remembers it.
    summary.add(5_000, 131_000);
    expect(summary.recent(150_000)).toEqual({ p50: 95, p99: 5_000 });
    expect(summary.recent(200_000)).toEqual({});
    expect(summary.summary().max).toBe(5_000);
  });

  it('measures pacing error at enqueue and upload latency from t_avail, only for uploads', () => {
    let clock = 10_000;
    const stats = new RunStats(() => clock);
    stats.enqueued(3);
    stats.enqueued(7);
    stats.outcome(outcome('uploaded', 9_000, 9_250));
    stats.outcome(outcome('failed', 9_000)); // a failure has no upload latency
    stats.outcome(outcome('uploaded', 9_100)); // nor does an event without t_uploaded
    expect(stats.pacing.summary()).toEqual({ p50: 3, p99: 7, max: 7 });
    expect(stats.upload.summary()).toEqual({ p50: 250, p99: 250, max: 250 });
    // Stamped with the stats' clock: a minute later the window is empty again.
    clock += 61_000;
    expect(stats.upload.recent(clock)).toEqual({});
  });
});
