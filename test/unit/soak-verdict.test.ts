import { describe, expect, it } from 'vitest';
import type { DownloadChunkEvent, UploadChunkEvent } from '../../src/common/log-records.js';
import type { DatasetAudit } from '../../tools/soak/dataset-audit.js';
import { soakVerdict, type SoakVerdictInput } from '../../tools/soak/verdict.js';

const name = (seq: number): string => `V-V1_SOAK-${1_400_000_000 + seq}-1.hdf5`;
const adler = (seq: number): string => seq.toString(16).padStart(8, '0');
const md5 = (seq: number): string => seq.toString(16).padStart(32, '0');

function uploaded(seq: number): UploadChunkEvent {
  return { event: 'uploaded', run: 'r', seq, name: name(seq), adler32: adler(seq), md5: md5(seq), t_avail: 1 };
}
function verified(seq: number, sums = { adler32: adler(seq), md5: md5(seq) }): DownloadChunkEvent {
  return { event: 'verified', run: 'r', seq, name: name(seq), ...sums };
}
function corrupted(seq: number): DownloadChunkEvent {
  return { event: 'corrupted', run: 'r', seq, name: name(seq), adler32: 'ffffffff', expected_adler32: adler(seq) };
}
function audit(count: number, corrupt: number[] = []): DatasetAudit {
  return {
    listed: count,
    duplicateNames: [],
    catalog: new Map(Array.from({ length: count }, (_, seq) => [name(seq), { bytes: 10, adler32: adler(seq), md5: md5(seq) }])),
    corruptStored: new Set(corrupt.map(name)),
    unreadable: [],
  };
}

/** A clean soak of 10 chunks where chunk 3 was stored corrupted and detected (twice: a retry). */
function clean(): SoakVerdictInput {
  const seqs = Array.from({ length: 10 }, (_, seq) => seq);
  return {
    scheduled: 10,
    uploads: seqs.map(uploaded),
    downloads: [...seqs.filter((seq) => seq !== 3).map((seq) => verified(seq)), corrupted(3), corrupted(3)],
    audit: audit(10, [3]),
    corruptedWrites: 1,
    notInjected: [],
  };
}

const failing = (input: SoakVerdictInput): string[] => soakVerdict(input).checks.filter((c) => !c.ok).map((c) => c.id);

describe('soak verdict', () => {
  it('passes a run where every chunk is verified or its corruption detected', () => {
    const verdict = soakVerdict(clean());
    expect(failing(clean())).toEqual([]);
    expect(verdict.ok).toBe(true);
    expect(verdict.counts).toMatchObject({ scheduled: 10, uploaded: 10, verified: 9, detectedCorrupt: 1, corruptStored: 1, lost: 0 });
  });

  it('counts a chunk that was uploaded but never verified as lost, and one never uploaded', () => {
    const input = clean();
    input.downloads = input.downloads.filter((event) => event.seq !== 5);
    input.uploads = input.uploads.filter((event) => event.seq !== 7);
    input.downloads = input.downloads.filter((event) => event.seq !== 7);
    const verdict = soakVerdict(input);
    expect(failing(input)).toContain('lost');
    expect(verdict.counts.lost).toBe(2);
    expect(verdict.checks.find((c) => c.id === 'lost')?.examples).toEqual([name(5), 'seq 7 (never seen)']);
  });

  it('tells an upload missing from the logs (but verified) from a lost chunk', () => {
    const input = clean();
    input.uploads = input.uploads.filter((event) => event.seq !== 6);
    const verdict = soakVerdict(input);
    expect(failing(input)).toEqual(['unlogged-uploads']);
    expect(verdict.counts.lost).toBe(0);
    expect(verdict.checks.find((c) => c.id === 'unlogged-uploads')?.examples).toEqual([`seq 6: ${name(6)} in no upload log`]);
  });

  it('fails when a verified chunk has checksums other than the catalog\'s (corruption accepted)', () => {
    const input = clean();
    input.downloads = [...input.downloads.filter((e) => e.seq !== 4), verified(4, { adler32: 'deadbeef', md5: md5(4) })];
    expect(failing(input)).toEqual(['corrupt-accepted']);
  });

  it('fails when a corrupt stored object was verified, or never reported corrupted', () => {
    const input = clean();
    input.audit = audit(10, [3, 6]);
    input.corruptedWrites = 2;
    // chunk 6 is corrupt in storage yet logged verified with the catalog's checksums
    expect(failing(input)).toEqual(expect.arrayContaining(['corrupt-accepted', 'undetected-corruption', 'corruption-count']));
  });

  it('accepts more corrupted writes than detections only when the extra objects are intact in storage', () => {
    const input = clean();
    input.corruptedWrites = 2; // the read-back finds one corrupt object, the one detected
    expect(failing(input)).toEqual([]);
    expect(soakVerdict(input).checks.find((c) => c.id === 'corruption-count')?.summary).toMatch(/1 overwritten by a retried upload/);
    input.corruptedWrites = 0;
    expect(failing(input)).toEqual(['corruption-count']);
  });

  it('fails on a corruption reported for intact bytes', () => {
    const input = clean();
    input.downloads = [...input.downloads.filter((e) => e.seq !== 8), corrupted(8)];
    input.corruptedWrites = 2;
    expect(failing(input)).toContain('false-corruption');
  });

  it('fails on a chunk read corrupted and then verified: stored bytes changed under the downloader', () => {
    // A retried upload that rewrote a registered object intact (the soak's own corruption is on write only).
    const input = clean();
    input.downloads = [...input.downloads.filter((e) => e.seq !== 8), corrupted(8), verified(8)];
    input.corruptedWrites = 2;
    expect(failing(input)).toEqual(['false-corruption']);
    const check = soakVerdict(input).checks.find((c) => c.id === 'false-corruption');
    expect(check?.summary).toMatch(/1 of them verified later/);
    expect(check?.examples).toEqual([`${name(8)} (corrupted, then verified)`]);
  });

  it('fails on duplicates in the dataset listing and in the logs', () => {
    const input = clean();
    input.audit = { ...audit(10, [3]), listed: 11, duplicateNames: [name(2)] };
    input.uploads = [...input.uploads, uploaded(2)];
    input.downloads = [...input.downloads, verified(1)];
    expect(failing(input)).toEqual(['dataset-duplicates', 'log-duplicates']);
    const logCheck = soakVerdict(input).checks.find((c) => c.id === 'log-duplicates');
    expect(logCheck?.examples).toEqual([`uploaded twice: ${name(2)}`, `verified twice: ${name(1)}`]);
  });

  it('fails when the dataset lacks an uploaded chunk, or a scheduled fault was not injected', () => {
    const input = clean();
    input.audit.catalog.delete(name(9));
    input.audit.listed = 9;
    input.notInjected = ['SIGKILL a download worker process: no download worker process found'];
    expect(failing(input)).toEqual(expect.arrayContaining(['dataset-duplicates', 'faults-injected']));
  });
});
