import { describe, expect, it } from 'vitest';
import { planRun, resumeConflicts, type RunSettings } from '../../src/uploader/run-plan.js';

/** `upload --resume RUN`: the run's settings come from Redis; flags given again must agree with them. */

const settings: RunSettings = planRun(
  {
    runId: 'kill1',
    source: { kind: 'synthetic', sampleRate: 4096, seed: 7, detector: 'V1' },
    periodMs: 1000,
    rateFactor: 10,
    asFastAsPossible: false,
    count: 40,
    startAt: 1_764_158_400_000,
    alignGps: false,
    latePolicy: 'catch-up',
    gapPolicy: 'skip',
    scope: 'wavefier',
    dataset: 'my-rehearsal',
    rse: 'LAKE_S3',
    logDir: 'rehearsals',
  },
  'http://rucio.example',
  () => 1_764_158_000_000,
);

describe('upload --resume: flags given again', () => {
  it('agree when they repeat the run\'s settings, in any spelling that means the same', () => {
    expect(
      resumeConflicts(settings, {
        source: 'synthetic',
        seed: 7,
        sampleRate: 4096,
        detector: 'V1',
        periodMs: 1000,
        rateFactor: 10,
        asFastAsPossible: false,
        count: 40,
        durationMs: 40_500,
        startAt: 1_764_158_400_000,
        latePolicy: 'catch-up',
        gapPolicy: 'skip',
        scope: 'wavefier',
        dataset: 'my-rehearsal',
        rse: 'LAKE_S3',
        tag: 'WAVEFIER_KILL1',
        runId: 'kill1',
        logDir: 'rehearsals',
      }),
    ).toEqual([]);
    expect(resumeConflicts(settings, {})).toEqual([]);
  });

  it('are named, with the run\'s value, when they differ', () => {
    expect(resumeConflicts(settings, { rse: 'LAKE_POSIX', durationMs: 60_000, source: '/data/H1.hdf5', asFastAsPossible: true, alignGps: true, runId: 'other' })).toEqual([
      "--source /data/H1.hdf5 (the run's: synthetic)",
      "--as-fast-as-possible true (the run's: false)",
      "--duration 60000 (the run's: 40000)",
      "--align-gps true (the run's: not recorded)",
      "--rse LAKE_POSIX (the run's: LAKE_S3)",
      "--run-id other (the run's: kill1)",
    ]);
  });
});
