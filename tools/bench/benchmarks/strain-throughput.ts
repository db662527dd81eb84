import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { checksums } from '../../../src/common/checksum.js';
import { definedProps } from '../../../src/common/defined.js';
import { packageRoot } from '../../../src/rehearse/index.js';
import { decodeChunk, encodeChunk, openSource, type ChunkSource, type SourceSpec } from '../../../src/strain/index.js';
import type { Benchmark, Metric } from '../types.js';

/**
 * Read (or generate) + encode + checksum, chunk by chunk, as an upload worker does. The per-stage
 * times are CPU-bound wall times on an otherwise idle process.
 */
// The real files live beside the repository (../shared/data/gwosc); WAVEFIER_GWOSC_DIR overrides.
const gwoscDir = process.env.WAVEFIER_GWOSC_DIR ?? join(packageRoot(), '..', 'shared', 'data', 'gwosc');
const run = { runId: 'bench', gpsStart: 1418400000 };
const chunkCostTarget = '>= 1000';
const cpuTarget = '<= 1';

interface StageTimes {
  chunks: number;
  wallMs: number;
  /** User + system CPU of the whole process (GC threads included): robust on a busy machine. */
  cpuMs: number;
  sourceMs: number;
  encodeMs: number;
  checksumMs: number;
  bytes: number;
}

function measure(source: ChunkSource, chunks: number, warmup = 8): StageTimes {
  for (let seq = 0; seq < warmup; seq++) checksums(encodeChunk(source.chunk(seq), { tAvail: seq }));
  const times: StageTimes = { chunks, wallMs: 0, cpuMs: 0, sourceMs: 0, encodeMs: 0, checksumMs: 0, bytes: 0 };
  const cpuStart = process.cpuUsage();
  const started = performance.now();
  for (let seq = warmup; seq < warmup + chunks; seq++) {
    const t0 = performance.now();
    const chunk = source.chunk(seq);
    const t1 = performance.now();
    const bytes = encodeChunk(chunk, { tAvail: 1.7e12 + seq * 1000 });
    const t2 = performance.now();
    checksums(bytes);
    const t3 = performance.now();
    times.sourceMs += t1 - t0;
    times.encodeMs += t2 - t1;
    times.checksumMs += t3 - t2;
    times.bytes += bytes.byteLength;
  }
  times.wallMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuStart);
  times.cpuMs = (cpu.user + cpu.system) / 1000;
  return times;
}

function stageMetrics(label: string, times: StageTimes, sourceStage: string, target?: string): Metric[] {
  const per = (ms: number): number => ms / times.chunks;
  return [
    { name: `${label}: throughput`, value: (times.chunks * 1000) / times.wallMs, unit: 'chunks/s', ...definedProps({ target }) },
    { name: `${label}: CPU per chunk`, value: per(times.cpuMs), unit: 'ms', ...(target === undefined ? {} : { target: cpuTarget }) },
    { name: `${label}: ${sourceStage}`, value: per(times.sourceMs), unit: 'ms/chunk' },
    { name: `${label}: encode`, value: per(times.encodeMs), unit: 'ms/chunk' },
    { name: `${label}: adler32 + md5`, value: per(times.checksumMs), unit: 'ms/chunk' },
    { name: `${label}: chunk file size`, value: times.bytes / times.chunks, unit: 'bytes' },
  ];
}

async function withSource<T>(spec: SourceSpec, use: (source: ChunkSource) => T): Promise<T> {
  const source = await openSource(spec, run);
  try {
    return use(source);
  } finally {
    source.close();
  }
}

export const strainSynthetic: Benchmark = {
  name: 'strain-synthetic',
  title: 'synthetic coloured noise: generate + encode + checksum',
  description:
    'A synthetic source (seeded coloured Gaussian noise) at 4096 Hz for 4096 chunks and at 16384 Hz for 1024 chunks; ' +
    'each chunk is generated, encoded to HDF5 bytes and checksummed (adler32 + md5). Decoding is timed on 256 chunks. ' +
    'Target: at least 1000 chunks/s at 4 kHz, i.e. at most 1 ms of CPU per chunk (the 14,400-chunk replay must fit in 60 s on 2 cores). ' +
    'Wall-clock throughput depends on what else runs on the machine (see the load average); CPU per chunk much less so.',
  run: async ({ log }) => {
    const metrics: Metric[] = [];
    const fourK = await withSource({ kind: 'synthetic', sampleRate: 4096, seed: 1 }, (source) => measure(source, 4096));
    log(`4 kHz: ${((fourK.chunks * 1000) / fourK.wallMs).toFixed(0)} chunks/s`);
    metrics.push(...stageMetrics('4 kHz', fourK, 'generate', chunkCostTarget));
    const sixteenK = await withSource({ kind: 'synthetic', sampleRate: 16384, seed: 1 }, (source) => measure(source, 1024));
    metrics.push(...stageMetrics('16 kHz', sixteenK, 'generate'));
    const decodeMs = await withSource({ kind: 'synthetic', sampleRate: 4096, seed: 1 }, (source) => {
      const encoded = Array.from({ length: 256 }, (_, seq) => encodeChunk(source.chunk(seq), { tAvail: seq }));
      const started = performance.now();
      for (const bytes of encoded) decodeChunk(bytes);
      return (performance.now() - started) / encoded.length;
    });
    metrics.push({ name: '4 kHz: decode', value: decodeMs, unit: 'ms/chunk', note: 'first chunk of a shape through h5wasm, the rest from the bytes' });
    return metrics;
  },
};

export const strainReplay: Benchmark = {
  name: 'strain-replay',
  title: 'replay of the real LOSC files: read + encode + checksum',
  description:
    'Sequential replay of H-H1_LOSC_4_V2-1126259446-32.hdf5 (4096 Hz, deflate + fletcher32, looped) for 4096 chunks, and of ' +
    'the 16 kHz file for 1024 chunks, plus a random-order draw from the 4 kHz file; each chunk read as a 1 s hyperslab, encoded ' +
    'and checksummed. Target: at least 1000 chunks/s at 4 kHz.',
  run: async ({ log }) => {
    const metrics: Metric[] = [];
    const fourK = await withSource({ kind: 'file', path: join(gwoscDir, 'H-H1_LOSC_4_V2-1126259446-32.hdf5'), order: 'sequential' }, (source) =>
      measure(source, 4096),
    );
    log(`4 kHz file: ${((fourK.chunks * 1000) / fourK.wallMs).toFixed(0)} chunks/s`);
    metrics.push(...stageMetrics('4 kHz file', fourK, 'read', chunkCostTarget));
    const random = await withSource(
      { kind: 'file', path: join(gwoscDir, 'L-L1_LOSC_4_V1-1167559920-32.hdf5'), order: 'random', seed: 7 },
      (source) => measure(source, 2048),
    );
    metrics.push(...stageMetrics('4 kHz file, random order', random, 'read', chunkCostTarget).slice(0, 3));
    const sixteenK = await withSource({ kind: 'file', path: join(gwoscDir, 'H-H1_LOSC_16_V2-1126259446-32.hdf5'), order: 'sequential' }, (source) =>
      measure(source, 1024),
    );
    metrics.push(...stageMetrics('16 kHz file', sixteenK, 'read'));
    return metrics;
  },
};

export const strainBulk: Benchmark = {
  name: 'strain-bulk',
  title: 'a 4096 s bulk file (O2-style) read chunk by chunk',
  description:
    'A generated 4096 s, 4096 Hz file in the GWOSC layout (128 MiB of float64, HDF5 chunks of 2048 samples, deflate level 1, ' +
    'like the GWOSC bulk files), written by a separate process, then replayed in full: 4096 chunks read, encoded and ' +
    'checksummed, then 2048 chunks drawn in random order. Target: peak RSS of the reading process under 100 MB (the file is ' +
    'never loaded whole).',
  peakRssTarget: '< 100',
  run: async ({ workDir, log }) => {
    const path = join(workDir, 'L-L1_GWOSC_O2_4KHZ_R1-1187008512-4096.hdf5');
    const writer = new URL('../../../src/strain/index.js', import.meta.url).href;
    const started = performance.now();
    // A separate process, so that the writer's memory does not count in this one's peak RSS.
    execFileSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const { writeGwoscFile } = await import(${JSON.stringify(writer)});
         writeGwoscFile(${JSON.stringify(path)}, { detector: 'L1', gpsStart: 1187008512, duration: 4096, sampleRate: 4096,
           sample: (i) => Math.sin(i * 0.003) * 1e-21 + ((i * 2654435761) % 1000) * 1e-25, compression: 1, chunkSamples: 2048,
           dq: () => 127, descriptionUrl: 'https://gwosc.org/' });`,
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    log(`generated ${path} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    const sequential = await withSource({ kind: 'file', path, order: 'sequential' }, (source) => measure(source, 4096 - 8));
    log(`bulk: ${((sequential.chunks * 1000) / sequential.wallMs).toFixed(0)} chunks/s`);
    const random = await withSource({ kind: 'file', path, order: 'random', seed: 11 }, (source) => measure(source, 2048));
    return [
      ...stageMetrics('4096 s file', sequential, 'read', chunkCostTarget),
      ...stageMetrics('4096 s file, random order', random, 'read', chunkCostTarget).slice(0, 3),
    ];
  },
};
