import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/common/errors.js';
import { chunkShapeLine, parseChunkShapeLine, parseStreamSchedule, streamScheduleLine } from '../../src/common/stream-schedule.js';
import { announcedStream } from '../../src/downloader/poll-schedule.js';
import { uploadSchedule } from '../../src/rehearse/warm-start.js';

/** The line rehearse relays from its upload's run_started to its download (`download --schedule-from-owner`). */
describe('the stream schedule line', () => {
  const uploadStarted = {
    event: 'run_started',
    side: 'upload',
    period_ms: 4000,
    t0: 1_796_620_877_424,
    settings: { rate_factor: 10, interval_ms: 400, gps_start: 1_480_656_096, late_policy: 'catch-up' },
  };

  it("comes from an upload's run_started and gives the download the position of chunk 0 as its chunk names do", () => {
    const schedule = uploadSchedule(uploadStarted);
    expect(schedule).toEqual({ t0: 1_796_620_877_424, interval_ms: 400, gps_start: 1_480_656_096, duration_s: 4 });
    const line = streamScheduleLine(schedule!);
    expect(line.endsWith('\n')).toBe(true);
    expect(parseStreamSchedule(line.trimEnd())).toEqual(schedule);
    // H-H1_X-1480656096-4.hdf5 is at position 1480656096 / 4.
    expect(announcedStream(schedule!)).toEqual({ t0: 1_796_620_877_424, intervalMs: 400, firstK: 370_164_024 });
  });

  const shape = { run_id: 'r1', duration_s: 4, sample_rate_hz: 4096, detector: 'H1', observatory: 'H', source_kind: 'file', source_file: 'H-H1_LOSC_4_V2-1126259446-32.hdf5', has_dq: true };

  it("carries the shape of the upload's chunks when its run_started says it", () => {
    const schedule = uploadSchedule({ ...uploadStarted, settings: { ...uploadStarted.settings, chunk_shape: shape } });
    expect(schedule).toEqual({ t0: 1_796_620_877_424, interval_ms: 400, gps_start: 1_480_656_096, duration_s: 4, chunk_shape: shape });
    expect(parseStreamSchedule(streamScheduleLine(schedule!).trimEnd())).toEqual(schedule);
    // A synthetic source has no file.
    const { source_file: _file, ...synthetic } = { ...shape, source_kind: 'synthetic', has_dq: false };
    expect(uploadSchedule({ ...uploadStarted, settings: { ...uploadStarted.settings, chunk_shape: synthetic } })?.chunk_shape).toEqual(synthetic);
  });

  it('relays the schedule without a shape it cannot vouch for', () => {
    for (const junk of ['H1', { ...shape, sample_rate_hz: -1 }, { ...shape, detector: '' }, { ...shape, extra: 1 }, { ...shape, duration_s: 3600, sample_rate_hz: 16384 }]) {
      expect(uploadSchedule({ ...uploadStarted, settings: { ...uploadStarted.settings, chunk_shape: junk } })).toEqual({ t0: 1_796_620_877_424, interval_ms: 400, gps_start: 1_480_656_096, duration_s: 4 });
    }
  });

  it('is passed on to worker processes as a line of its own', () => {
    const line = chunkShapeLine(shape as Parameters<typeof chunkShapeLine>[0]);
    expect(line.endsWith('\n')).toBe(true);
    expect(parseChunkShapeLine(line.trimEnd())).toEqual(shape);
    expect(() => parseChunkShapeLine('stop')).toThrow(/the chunk shape "stop" is not JSON/);
    expect(() => parseChunkShapeLine(JSON.stringify({ ...shape, duration_s: 0 }))).toThrow(/the chunk shape .* is invalid: .*duration_s/);
  });

  it('is not made for an unpaced upload: there is no arrival to predict', () => {
    expect(uploadSchedule({ ...uploadStarted, settings: { ...uploadStarted.settings, interval_ms: 0 } })).toBeUndefined();
    expect(uploadSchedule({ ...uploadStarted, settings: { interval_ms: 400 } })).toBeUndefined();
  });

  it('says what is wrong with a line it cannot use', () => {
    expect(() => parseStreamSchedule('start')).toThrow(InputError);
    expect(() => parseStreamSchedule('start')).toThrow(/the stream schedule "start" is not JSON: expected \{"t0"/);
    expect(() => parseStreamSchedule('{"t0":1,"interval_ms":-5,"gps_start":0,"duration_s":1}')).toThrow(/is invalid: .*interval_ms/);
    expect(() => parseStreamSchedule('{"t0":1,"interval_ms":100,"gps_start":0,"duration_s":1,"extra":true}')).toThrow(/is invalid: .*extra/);
    const line = (chunkShape: unknown): string => JSON.stringify({ t0: 1, interval_ms: 100, gps_start: 0, duration_s: 1, chunk_shape: chunkShape });
    expect(() => parseStreamSchedule(line({ ...shape, source_kind: 'tape' }))).toThrow(/is invalid: .*chunk_shape.*source_kind/);
    expect(() => parseStreamSchedule(line({ ...shape, has_dq: 'yes' }))).toThrow(/is invalid: .*chunk_shape.*has_dq/);
    expect(() => parseStreamSchedule(line({ ...shape, run_id: 'x'.repeat(300) }))).toThrow(/is invalid: .*chunk_shape.*run_id/);
    expect(() => parseStreamSchedule(line({ ...shape, duration_s: 1024, sample_rate_hz: 16384 }))).toThrow(/is invalid: .*more than 4194304 samples/);
  });
});
