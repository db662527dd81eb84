import { statSync } from 'node:fs';
import { basename } from 'node:path';
import { definedProps } from '../common/defined.js';
import { InputError } from '../common/errors.js';
import { asNumber, asString, attribute, cleanString, datasetValue, DiskFile, hdf5Module, hdf5Reason, isDataset, isGroup } from './hdf5.js';
import type { Dataset, Group, H5File } from './hdf5.js';
import { findNanRuns, type SampleRun } from './gaps.js';
import { noteTransientBytes } from './memory-governor.js';

/**
 * How a strain file stores its metadata. `losc-fixed-strings` is the 2016 LOSC release (every string
 * fixed-length and NUL-padded); `losc-vlen-strings` the later LOSC files; `gwosc` anything else with
 * the GWOSC paths; `wavefier-chunk` a chunk written by `encodeChunk`.
 */
export type LayoutKind = 'gwosc' | 'losc-vlen-strings' | 'losc-fixed-strings' | 'wavefier-chunk';

export interface DataQuality {
  /** One value per `spacing` seconds from the file's GPS start. */
  mask: number[];
  spacing: number;
  bits?: number;
  shortnames?: string[];
}

/** The self-describing attributes of a chunk written by `encodeChunk`. */
export interface ChunkAttributes {
  runId?: string;
  seq?: number;
  sourceKind?: string;
  sourceFile?: string;
  sourceGps?: number;
  tAvail?: number;
}

export interface StrainFileInfo {
  path: string;
  file: string;
  layout: LayoutKind;
  detector: string;
  observatory: string;
  gpsStart: number;
  gpsEnd: number;
  duration: number;
  sampleRate: number;
  sampleCount: number;
  dtype: 'float64' | 'float32';
  utcStart?: string;
  dq?: DataQuality;
  chunk?: ChunkAttributes;
}

/** A NaN gap as a GPS interval [gpsStart, gpsEnd) with the number of NaN samples in it. */
export interface GpsGap {
  gpsStart: number;
  gpsEnd: number;
  samples: number;
}

export interface StrainFile {
  readonly info: StrainFileInfo;
  /** Reads `count` samples from `offset` (both in samples) with one hyperslab read. */
  readSlice(offset: number, count: number): Float64Array;
  /** Scans the whole file block by block (bounded memory) and returns its NaN gaps. */
  findGaps(blockSamples?: number): GpsGap[];
  close(): void;
}

const timeTolerance = 1e-6;

/** Opens a GWOSC/LOSC strain HDF5 file and validates its layout; throws InputError naming the file and the problem. */
export function openStrainFile(path: string): Promise<StrainFile> {
  try {
    return Promise.resolve(openStrainFileSync(path));
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}

export function openStrainFileSync(path: string): StrainFile {
  const name = basename(path);
  const fail = (problem: string, cause?: unknown): InputError =>
    new InputError(`${path}: ${problem}`, { file: path, ...definedProps({ cause }) });
  let size: number;
  try {
    const stats = statSync(path);
    if (!stats.isFile()) throw fail('not a regular file; give the path of an HDF5 strain file');
    size = stats.size;
  } catch (error) {
    if (error instanceof InputError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw fail(code === 'ENOENT' ? 'no such file; check the path' : `cannot read it (${code ?? 'unknown error'}); check its permissions`, error);
  }
  if (size === 0) throw fail('empty file (0 bytes); it is not an HDF5 strain file');

  let file: H5File;
  try {
    file = new DiskFile(path, 'r');
  } catch (error) {
    throw fail(describeOpenFailure(hdf5Reason(error), size), error);
  }
  try {
    const info = readInfo(file, path, name, fail);
    const strain = file.get('strain/Strain') as Dataset;
    return new OpenStrainFile(file, strain, info, fail);
  } catch (error) {
    file.close();
    if (error instanceof InputError) throw error;
    throw fail(`unreadable HDF5 content: ${hdf5Reason(error)}; the file may be damaged, download it again`, error);
  }
}

function describeOpenFailure(reason: string, size: number): string {
  if (/signature not found/i.test(reason)) return 'not an HDF5 file (no HDF5 signature); give a GWOSC/LOSC .hdf5 strain file';
  const truncated = /truncated file: eof = (\d+).*stored_eof = (\d+)/i.exec(reason);
  if (truncated) {
    return `truncated HDF5 file: ${truncated[1] ?? size} bytes on disk but the superblock says ${truncated[2] ?? '?'}; download it again`;
  }
  return `cannot open as HDF5 (${reason}); check that it is a complete GWOSC/LOSC .hdf5 file`;
}

type Fail = (problem: string, cause?: unknown) => InputError;

function readInfo(file: H5File, path: string, name: string, fail: Fail): StrainFileInfo {
  const entity = file.get('strain/Strain');
  if (!isDataset(entity)) throw fail('no /strain/Strain dataset; this is not a GWOSC/LOSC strain file');
  const strain = entity;
  const meta = strain.metadata;
  if (meta.type !== 1 || (meta.size !== 8 && meta.size !== 4)) {
    throw fail(`/strain/Strain holds ${JSON.stringify(strain.dtype)} values, expected 64- or 32-bit floats`);
  }
  const shape = strain.shape ?? [];
  const length = shape[0];
  if (shape.length !== 1 || length === undefined || length === 0) {
    throw fail(`/strain/Strain has shape [${shape.join(', ')}], expected a non-empty 1-D series`);
  }

  const metaGroup = file.get('meta');
  const metaRoot = isGroup(metaGroup) ? metaGroup : undefined;
  const metaString = (key: string): string | undefined => (metaRoot ? asString(datasetValue(metaRoot, key)?.value) : undefined);
  const metaNumber = (key: string): number | undefined => (metaRoot ? asNumber(datasetValue(metaRoot, key)?.value) : undefined);

  const xspacing = asNumber(attribute(strain, 'Xspacing'));
  if (xspacing === undefined || !Number.isFinite(xspacing) || xspacing <= 0) {
    throw fail(`/strain/Strain attribute Xspacing is ${describe(attribute(strain, 'Xspacing'))}, expected a positive sample spacing in seconds`);
  }
  const rate = 1 / xspacing;
  const sampleRate = Math.round(rate);
  if (Math.abs(rate - sampleRate) > 1e-6 * rate) {
    throw fail(`/strain/Strain Xspacing ${xspacing} is not 1/N for a whole sample rate N`);
  }
  const npoints = asNumber(attribute(strain, 'Npoints'));
  if (npoints !== undefined && npoints !== length) {
    throw fail(`/strain/Strain Npoints is ${npoints} but the dataset holds ${length} samples; the file is inconsistent`);
  }
  const gpsStart = asNumber(attribute(strain, 'Xstart')) ?? metaNumber('GPSstart');
  if (gpsStart === undefined || !Number.isFinite(gpsStart)) {
    throw fail('neither /strain/Strain Xstart nor /meta/GPSstart gives a GPS start time');
  }
  const metaStart = metaNumber('GPSstart');
  if (metaStart !== undefined && Math.abs(metaStart - gpsStart) > timeTolerance) {
    throw fail(`/strain/Strain Xstart ${gpsStart} differs from /meta/GPSstart ${metaStart}; the file is inconsistent`);
  }
  const duration = length * xspacing;
  const metaDuration = metaNumber('Duration');
  if (metaDuration !== undefined && Math.abs(metaDuration - duration) > timeTolerance) {
    throw fail(
      `/meta/Duration is ${metaDuration} s but /strain/Strain has ${length} samples at Xspacing ${xspacing} (${duration} s); the file is inconsistent`,
    );
  }

  const fromName = /^([A-Z])-([A-Z][0-9])_/.exec(name);
  const detector = metaString('Detector') ?? fromName?.[2];
  if (detector === undefined || detector === '') {
    throw fail('no /meta/Detector and no IGWN-style file name (e.g. H-H1_...) to take the detector from');
  }
  const observatory = metaString('Observatory') ?? fromName?.[1] ?? detector.slice(0, 1);

  const utcStart = metaString('UTCstart');
  const dq = readDataQuality(file);
  const layout = layoutOf(file, metaRoot, name);
  const chunk = layout === 'wavefier-chunk' ? readChunkAttributes(file) : undefined;
  return {
    path,
    file: name,
    layout,
    detector,
    observatory,
    gpsStart,
    gpsEnd: gpsStart + duration,
    duration,
    sampleRate,
    sampleCount: length,
    dtype: meta.size === 8 ? 'float64' : 'float32',
    ...definedProps({ utcStart, dq, chunk }),
  };
}

function readChunkAttributes(file: H5File): ChunkAttributes {
  const runId = asString(attribute(file, 'wavefier_run_id'));
  const seq = asNumber(attribute(file, 'wavefier_seq'));
  const sourceKind = asString(attribute(file, 'wavefier_source_kind'));
  const sourceFile = asString(attribute(file, 'wavefier_source_file'));
  const sourceGps = asNumber(attribute(file, 'wavefier_source_gps'));
  const tAvail = asNumber(attribute(file, 'wavefier_t_avail'));
  return {
    ...definedProps({ runId, seq, sourceKind, sourceFile, sourceGps, tAvail }),
  };
}

function layoutOf(file: H5File, metaRoot: Group | undefined, name: string): LayoutKind {
  if (attribute(file, 'wavefier_format') !== undefined) return 'wavefier-chunk';
  const url = metaRoot ? asString(datasetValue(metaRoot, 'DescriptionURL')?.value) : undefined;
  const losc = /losc/i.test(url ?? '') || /_LOSC_/.test(name);
  if (!losc) return 'gwosc';
  const detector = metaRoot ? datasetValue(metaRoot, 'Detector') : undefined;
  return detector !== undefined && !detector.dataset.metadata.vlen ? 'losc-fixed-strings' : 'losc-vlen-strings';
}

function readDataQuality(file: H5File): DataQuality | undefined {
  const found = datasetValue(file, 'quality/simple/DQmask');
  if (!found) return undefined;
  const values = found.value;
  if (!ArrayBuffer.isView(values)) return undefined;
  const mask = Array.from(values as unknown as ArrayLike<number | bigint>, Number);
  const spacing = asNumber(attribute(found.dataset, 'Xspacing')) ?? 1;
  const bits = asNumber(attribute(found.dataset, 'Bits'));
  const shortnamesValue = datasetValue(file, 'quality/simple/DQShortnames')?.value;
  const shortnames = Array.isArray(shortnamesValue)
    ? shortnamesValue.filter((item): item is string => typeof item === 'string').map(cleanString)
    : undefined;
  return { mask, spacing, ...definedProps({ bits, shortnames }) };
}

function describe(value: unknown): string {
  if (value === undefined) return 'missing';
  if (typeof value === 'bigint') return value.toString();
  try {
    return JSON.stringify(value);
  } catch {
    return 'unreadable';
  }
}

class OpenStrainFile implements StrainFile {
  private closed = false;
  /** A buffer in the WebAssembly heap reused by every read, so a read allocates only its result. */
  private buffer = { pointer: 0, bytes: 0 };

  constructor(
    private readonly file: H5File,
    private readonly strain: Dataset,
    readonly info: StrainFileInfo,
    private readonly fail: Fail,
  ) {}

  readSlice(offset: number, count: number): Float64Array {
    if (this.closed) throw new InputError(`${this.info.path}: read after close`);
    if (!Number.isInteger(offset) || !Number.isInteger(count) || offset < 0 || count < 0 || offset + count > this.info.sampleCount) {
      throw this.fail(`slice [${offset}, ${offset + count}) is outside the ${this.info.sampleCount} samples of /strain/Strain`);
    }
    if (count === 0) return new Float64Array(0);
    try {
      if (this.info.dtype === 'float64') return this.readFloat64(offset, count);
      const values = this.strain.slice([[offset, offset + count]]);
      if (values instanceof Float32Array && values.length === count) return Float64Array.from(values);
    } catch (error) {
      throw this.fail(`cannot read samples [${offset}, ${offset + count}): ${hdf5Reason(error)}; the file may be damaged`, error);
    }
    throw this.fail(`reading samples [${offset}, ${offset + count}) returned no float data`);
  }

  /**
   * A hyperslab read into the reused heap buffer and one copy out. Dataset.slice() would allocate
   * twice per read, and on a 4096 s replay that garbage alone pushes a reader past 100 MB resident.
   */
  private readFloat64(offset: number, count: number): Float64Array {
    const bytes = count * 8;
    if (bytes > this.buffer.bytes) {
      if (this.buffer.pointer !== 0) hdf5Module._free(this.buffer.pointer);
      const pointer = hdf5Module._malloc(bytes);
      if (pointer === 0) throw new Error(`cannot allocate ${bytes} bytes in the HDF5 heap`);
      this.buffer = { pointer, bytes };
    }
    hdf5Module.get_dataset_data(this.file.file_id, this.strain.path, [BigInt(count)], [BigInt(offset)], [1n], BigInt(this.buffer.pointer));
    const out = new Float64Array(count);
    // The heap is little-endian and HDF5 converted to native doubles; the pointer is malloc-aligned.
    out.set(new Float64Array(hdf5Module.HEAPU8.buffer, this.buffer.pointer, count));
    noteTransientBytes(bytes);
    return out;
  }

  findGaps(blockSamples = 64 * this.info.sampleRate): GpsGap[] {
    const runs: SampleRun[] = [];
    for (let offset = 0; offset < this.info.sampleCount; offset += blockSamples) {
      const count = Math.min(blockSamples, this.info.sampleCount - offset);
      for (const run of findNanRuns(this.readSlice(offset, count))) {
        const start = offset + run.start;
        const previous = runs.at(-1);
        if (previous && previous.start + previous.length === start) previous.length += run.length;
        else runs.push({ start, length: run.length });
      }
    }
    const spacing = 1 / this.info.sampleRate;
    return runs.map((run) => ({
      gpsStart: this.info.gpsStart + run.start * spacing,
      gpsEnd: this.info.gpsStart + (run.start + run.length) * spacing,
      samples: run.length,
    }));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.buffer.pointer !== 0) hdf5Module._free(this.buffer.pointer);
    this.buffer = { pointer: 0, bytes: 0 };
    this.file.close();
  }
}
