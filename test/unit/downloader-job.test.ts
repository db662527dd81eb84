import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalPaths, ignoresCase } from '../../src/downloader/local-paths.js';
import { downloadJobFor, downloadJobOptions, parseDownloadJob, type JobSettings } from '../../src/downloader/download-job.js';
import type { ReplicaRecord } from '../../src/rucio/index.js';

const replica: ReplicaRecord = {
  scope: 'wavefier',
  name: 'H-H1_WAVEFIER-1400000000-1.hdf5',
  bytes: 34_000,
  adler32: '0a1b2c3d',
  md5: '0123456789abcdef0123456789abcdef',
  pfns: [{ pfn: 's3://lake/wavefier/ab/cd/H-H1_WAVEFIER-1400000000-1.hdf5', rse: 'LAKE_S3', priority: 1, domain: 'wan' }],
  states: { LAKE_S3: 'AVAILABLE' },
};

const settings: JobSettings = { run: 'r1', scope: 'wavefier', dataset: 'ds-1', subdir: true, keep: 'all', dest: '/data/in', attempts: 5 };

describe('download job building', () => {
  it('carries everything a worker process needs, and survives the round trip through Redis', () => {
    const job = downloadJobFor(settings, replica, 1_700_000_000_123.5, 0);
    expect(job).toEqual({
      v: 1,
      run: 'r1',
      scope: 'wavefier',
      dataset: 'ds-1',
      name: replica.name,
      replica,
      tDetected: 1_700_000_000_123.5,
      destDir: '/data/in',
      relativeName: `ds-1/${replica.name}`,
      corruptions: 0,
    });
    expect(parseDownloadJob(JSON.parse(JSON.stringify(job)))).toEqual(job);
  });

  it('puts files directly in --dest with --no-subdir', () => {
    expect(downloadJobFor({ ...settings, subdir: false }, replica, 1, 0).relativeName).toBe(replica.name);
  });

  it('gives no destination with --keep none, even when --dest is set', () => {
    const job = downloadJobFor({ ...settings, keep: 'none' }, replica, 1, 0);
    expect(job).not.toHaveProperty('destDir');
    expect(parseDownloadJob(job)).not.toHaveProperty('destDir');
  });

  it('says how often the chunk was found corrupted before', () => {
    expect(downloadJobFor(settings, replica, 1, 2).corruptions).toBe(2);
  });

  it('names each corruption round of a chunk with its own job id, valid for BullMQ', () => {
    const first = downloadJobOptions(settings, replica.name, 0, 0);
    const retry = downloadJobOptions(settings, replica.name, 1, 1000);
    expect(first).toEqual({
      jobId: `dl-wavefier-${replica.name}-0`,
      attempts: 5,
      backoff: { type: 'exponential', delay: 500 },
      delay: 0,
      removeOnComplete: true,
      removeOnFail: true,
    });
    expect(retry).toMatchObject({ jobId: `dl-wavefier-${replica.name}-1`, delay: 1000 });
    // BullMQ refuses ids with ':' and takes all-digit ids for its own.
    for (const id of [first.jobId, retry.jobId]) {
      expect(id).not.toContain(':');
      expect(id).not.toMatch(/^\d+$/);
    }
  });

  it('refuses a malformed job read from Redis with a message naming the field', () => {
    expect(() => parseDownloadJob({ ...downloadJobFor(settings, replica, 1, 0), corruptions: -1 })).toThrow(/malformed download job.*corruptions/);
  });
});

describe('local paths of a download', () => {
  it('know whether the destination ignores case (this one does not)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wavefier-case-'));
    try {
      expect(ignoresCase(join(dir, 'dest'))).toBe(false);
      // The probe leaves nothing behind.
      expect(readdirSync(join(dir, 'dest'))).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('give each name and path to one DID, folding case only where the destination does', () => {
    const exact = new LocalPaths(false);
    expect(exact.claim({ scope: 's', name: 'A.hdf5', relativePath: 'ds/A.hdf5' }, 'd/ds/A.hdf5')).toBeUndefined();
    expect(exact.claim({ scope: 's', name: 'a.hdf5', relativePath: 'ds/a.hdf5' }, 'd/ds/a.hdf5')).toBeUndefined();
    expect(exact.claim({ scope: 's', name: 'A.hdf5', relativePath: 'ds/A.hdf5' }, 'd/ds/A.hdf5')).toBeUndefined();
    expect(exact.claim({ scope: 't', name: 'A.hdf5', relativePath: undefined }, '')).toMatch(/^t:A\.hdf5 has the same name as s:A\.hdf5/);
    const folded = new LocalPaths(true);
    expect(folded.claim({ scope: 's', name: 'A.hdf5', relativePath: 'ds/A.hdf5' }, 'd/ds/A.hdf5')).toBeUndefined();
    expect(folded.claim({ scope: 's', name: 'a.hdf5', relativePath: 'ds/a.hdf5' }, 'd/ds/a.hdf5')).toMatch(/^s:a\.hdf5 would be written to d\/ds\/a\.hdf5, already the file of s:A\.hdf5 \(the destination ignores case\)/);
  });
});
