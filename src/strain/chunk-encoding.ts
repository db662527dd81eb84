import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { endianness } from 'node:os';
import { InputError, RuntimeFailure, UsageError } from '../common/errors.js';
import { gpsToUnixMs } from '../common/gps.js';
import type { Chunk } from './chunk.js';
import { asNumber, asString, attribute, datasetValue, DiskFile, hdf5Reason, isDataset } from './hdf5.js';
import { noteTransientBytes } from './memory-governor.js';
import { scratchPath } from './scratch-files.js';
import type { Dataset, Group, H5File } from './hdf5.js';

/**
 * Chunk <-> HDF5 bytes, in the GWOSC layout plus `wavefier_*` root attributes that make a chunk
 * self-describing.
 *
 * Writing a file through h5wasm costs a few milliseconds, far too much for a 14,400-chunk replay,
 * so h5wasm writes one *template* per chunk shape (run, detector, rate, source file...) with random
 * sentinel values, we locate the bytes of every per-chunk field by their sentinels, and each chunk
 * is a copy of the template with those bytes overwritten. Every per-chunk value has a fixed size
 * (64-bit numbers, a 19-character UTC string, the samples), so the layout never moves. A second
 * h5wasm file written with different sentinels proves, byte for byte, that patching reproduces what
 * the HDF5 library itself writes, before a template is used.
 *
 * The files use the earliest HDF5 format (superblock 0, v1 object headers): it has no metadata
 * checksums to recompute, and its only time-dependent bytes (dataset modification times) are
 * zeroed so that encoding the same chunk again, on any host, gives the same bytes and checksums.
 */

export const chunkFormatVersion = 1;

export interface EncodeExtra {
  /** Epoch milliseconds when the chunk's data was complete (DESIGN §1). */
  tAvail: number;
  /** Only used for names; accepted here so callers can pass one options object. */
  tag?: string;
}

export interface DecodedChunk {
  runId: string;
  seq: number;
  gpsStart: number;
  duration: number;
  sampleRate: number;
  samples: Float64Array;
  detector: string;
  observatory: string;
  sourceKind: 'file' | 'synthetic';
  sourceFile?: string;
  sourceGps: number;
  tAvail: number;
  dqMask?: number[];
  formatVersion: number;
}

interface ShapeFields {
  runId: string;
  duration: number;
  sampleRate: number;
  detector: string;
  observatory: string;
  sourceKind: 'file' | 'synthetic';
  sourceFile: string | undefined;
  hasDq: boolean;
}

interface ValueFields {
  seq: bigint;
  gpsMeta: bigint;
  xstartStrain: bigint;
  xstartDq: bigint;
  sourceGps: number;
  tAvail: number;
  utcStart: string;
  samples: Float64Array;
  dqMask: Uint32Array;
}

interface Slots {
  seq: number;
  gpsMeta: number;
  xstartStrain: number;
  xstartDq: number | undefined;
  sourceGps: number;
  tAvail: number;
  utcStart: number;
  samples: number;
  dqMask: number | undefined;
}

interface Template {
  bytes: Uint8Array;
  slots: Slots;
}

const utcLength = 19;
const littleEndian = endianness() === 'LE';
const templates = new Map<string, Template>();
const maxTemplates = 32;

/** HDF5 bytes of one chunk. Deterministic: the same chunk and tAvail always give the same bytes. */
export function encodeChunk(chunk: Chunk, extra: EncodeExtra): Uint8Array {
  const shape = shapeOf(chunk);
  const values = valuesOf(chunk, extra);
  const template = templateFor(shape);
  const bytes = patch(template, values);
  noteTransientBytes(bytes.byteLength);
  return bytes;
}

function shapeOf(chunk: Chunk): ShapeFields {
  if (!Number.isSafeInteger(chunk.duration) || chunk.duration <= 0) {
    throw new UsageError(`chunk ${chunk.seq}: duration ${chunk.duration} must be a positive whole number of seconds`);
  }
  if (!Number.isSafeInteger(chunk.sampleRate) || chunk.sampleRate <= 0) {
    throw new UsageError(`chunk ${chunk.seq}: sample rate ${chunk.sampleRate} must be a positive whole number of Hz`);
  }
  const expected = chunk.duration * chunk.sampleRate;
  if (chunk.samples.length !== expected) {
    throw new UsageError(`chunk ${chunk.seq}: ${chunk.samples.length} samples, expected ${expected} (${chunk.duration} s at ${chunk.sampleRate} Hz)`);
  }
  if (chunk.dqMask !== undefined && chunk.dqMask.length !== chunk.duration) {
    throw new UsageError(`chunk ${chunk.seq}: ${chunk.dqMask.length} DQ values, expected one per second (${chunk.duration})`);
  }
  if (chunk.runId === '' || chunk.detector === '' || chunk.observatory === '') {
    throw new UsageError(`chunk ${chunk.seq}: run id, detector and observatory must not be empty`);
  }
  return {
    runId: chunk.runId,
    duration: chunk.duration,
    sampleRate: chunk.sampleRate,
    detector: chunk.detector,
    observatory: chunk.observatory,
    sourceKind: chunk.source.kind,
    sourceFile: chunk.source.file,
    hasDq: chunk.dqMask !== undefined,
  };
}

function valuesOf(chunk: Chunk, extra: EncodeExtra): ValueFields {
  if (!Number.isSafeInteger(chunk.seq) || chunk.seq < 0) throw new UsageError(`chunk sequence ${chunk.seq} must be a non-negative integer`);
  if (!Number.isSafeInteger(chunk.gpsStart) || chunk.gpsStart < 0) {
    throw new UsageError(`chunk ${chunk.seq}: GPS start ${chunk.gpsStart} must be a non-negative integer`);
  }
  if (!Number.isFinite(extra.tAvail)) throw new UsageError(`chunk ${chunk.seq}: t_avail ${extra.tAvail} must be a finite epoch time in ms`);
  if (!Number.isFinite(chunk.source.gpsStart)) throw new UsageError(`chunk ${chunk.seq}: source GPS ${chunk.source.gpsStart} must be finite`);
  const gps = BigInt(chunk.gpsStart);
  return {
    seq: BigInt(chunk.seq),
    gpsMeta: gps,
    xstartStrain: gps,
    xstartDq: gps,
    sourceGps: chunk.source.gpsStart,
    tAvail: extra.tAvail,
    utcStart: utcOf(chunk.gpsStart),
    samples: chunk.samples,
    dqMask: Uint32Array.from(chunk.dqMask ?? []),
  };
}

function utcOf(gps: number): string {
  const iso = new Date(gpsToUnixMs(gps)).toISOString().slice(0, utcLength);
  // Years outside 0000-9999 change the ISO length; GPS times never get there, but the slot is fixed.
  return iso.length === utcLength ? iso : '0000-00-00T00:00:00';
}

function templateFor(shape: ShapeFields): Template {
  const key = JSON.stringify(shape);
  const cached = templates.get(key);
  if (cached) return cached;
  const template = buildTemplate(shape);
  if (templates.size >= maxTemplates) {
    const oldest = templates.keys().next().value;
    if (oldest !== undefined) templates.delete(oldest);
  }
  templates.set(key, template);
  return template;
}

function buildTemplate(shape: ShapeFields): Template {
  const sentinels = sentinelValues(shape);
  const raw = writeWithH5wasm(shape, sentinels);
  const mtimes = modificationTimeOffsets(raw);
  const bytes = zeroAt(raw, mtimes);
  const slots = locateSlots(bytes, shape, sentinels);
  const template = { bytes, slots };
  // Prove the patch covers every byte that differs between two chunks of this shape.
  const probe = sentinelValues(shape);
  const expected = zeroAt(writeWithH5wasm(shape, probe), mtimes);
  const patched = patch(template, probe);
  if (!Buffer.from(expected).equals(Buffer.from(patched))) {
    throw new RuntimeFailure(
      `chunk template self-check failed for ${shape.detector} at ${shape.sampleRate} Hz: the HDF5 layout written by h5wasm ` +
        'changed between two files of the same shape; this is a wavefier bug, please report it with the h5wasm version',
    );
  }
  return template;
}

function sentinelValues(shape: ShapeFields): ValueFields {
  const random64 = (): bigint => randomBytes(8).readBigInt64LE() & 0x3fffffffffffffffn;
  const randomDouble = (): number => 1 + randomBytes(4).readUInt32LE() / 2 ** 32 + randomBytes(4).readUInt32LE() / 2 ** 64;
  const samples = new Float64Array(shape.duration * shape.sampleRate);
  const noise = new Uint32Array(randomBytes(samples.length * 4).buffer);
  for (let index = 0; index < samples.length; index++) samples[index] = 1 + (noise[index] ?? 0) / 2 ** 32 + index / 2 ** 52;
  const letters = 'ABCDEFGHJKLMNPQRSTUVWXYZ';
  const utcStart = Array.from(randomBytes(utcLength), (byte) => letters[byte % letters.length]).join('');
  const dqMask = new Uint32Array(shape.hasDq ? shape.duration : 0);
  for (let index = 0; index < dqMask.length; index++) dqMask[index] = randomBytes(4).readUInt32LE() | 0x80000000;
  return {
    seq: random64(),
    gpsMeta: random64(),
    xstartStrain: random64(),
    xstartDq: random64(),
    sourceGps: randomDouble(),
    tAvail: randomDouble(),
    utcStart,
    samples,
    dqMask,
  };
}

function writeWithH5wasm(shape: ShapeFields, values: ValueFields): Uint8Array {
  const path = scratchPath('template');
  const file = new DiskFile(path, 'w', { libver: ['earliest', 'v108'] });
  try {
    file.create_attribute('wavefier_format', scalarI64(BigInt(chunkFormatVersion)), [], '<q');
    file.create_attribute('wavefier_run_id', shape.runId);
    file.create_attribute('wavefier_seq', scalarI64(values.seq), [], '<q');
    file.create_attribute('wavefier_source_kind', shape.sourceKind);
    if (shape.sourceFile !== undefined) file.create_attribute('wavefier_source_file', shape.sourceFile);
    file.create_attribute('wavefier_source_gps', values.sourceGps, null, '<d');
    file.create_attribute('wavefier_t_avail', values.tAvail, null, '<d');

    const meta = file.create_group('meta');
    meta.create_dataset({ name: 'Description', data: 'Strain data time series, rehearsal chunk written by wavefier' });
    meta.create_dataset({ name: 'Detector', data: shape.detector });
    meta.create_dataset({ name: 'Duration', data: scalarI64(BigInt(shape.duration)), shape: [], dtype: '<q' });
    meta.create_dataset({ name: 'GPSstart', data: scalarI64(values.gpsMeta), shape: [], dtype: '<q' });
    meta.create_dataset({ name: 'Observatory', data: shape.observatory });
    meta.create_dataset({ name: 'Type', data: 'StrainTimeSeries' });
    meta.create_dataset({ name: 'UTCstart', data: values.utcStart });

    const strain = file.create_group('strain').create_dataset({
      name: 'Strain',
      data: values.samples,
      shape: [values.samples.length],
      dtype: '<d',
    });
    strain.create_attribute('Xstart', scalarI64(values.xstartStrain), [], '<q');
    strain.create_attribute('Xspacing', 1 / shape.sampleRate, null, '<d');
    strain.create_attribute('Npoints', scalarI64(BigInt(values.samples.length)), [], '<q');
    strain.create_attribute('Xlabel', 'GPS time');
    strain.create_attribute('Xunits', 'second');
    strain.create_attribute('Ylabel', 'Strain');
    strain.create_attribute('Yunits', '');

    if (shape.hasDq) {
      const dq = file.create_group('quality').create_group('simple').create_dataset({
        name: 'DQmask',
        data: values.dqMask,
        shape: [values.dqMask.length],
        dtype: '<I',
      });
      dq.create_attribute('Xstart', scalarI64(values.xstartDq), [], '<q');
      dq.create_attribute('Xspacing', 1, null, '<d');
      dq.create_attribute('Npoints', scalarI64(BigInt(values.dqMask.length)), [], '<q');
    }
  } finally {
    file.close();
  }
  try {
    return new Uint8Array(readFileSync(path));
  } finally {
    rmSync(path, { force: true });
  }
}

function scalarI64(value: bigint): BigInt64Array {
  return BigInt64Array.of(value);
}

/** Offsets of the 4-byte seconds of every v1 "modification time" object header message (type 0x12). */
function modificationTimeOffsets(bytes: Uint8Array): number[] {
  const offsets: number[] = [];
  for (let index = 0; index + 16 <= bytes.length; index++) {
    if (
      bytes[index] === 0x12 && bytes[index + 1] === 0 && bytes[index + 2] === 8 && bytes[index + 3] === 0 &&
      bytes[index + 5] === 0 && bytes[index + 6] === 0 && bytes[index + 7] === 0 &&
      bytes[index + 8] === 1 && bytes[index + 9] === 0 && bytes[index + 10] === 0 && bytes[index + 11] === 0
    ) {
      offsets.push(index + 12);
    }
  }
  return offsets;
}

function zeroAt(bytes: Uint8Array, offsets: readonly number[]): Uint8Array {
  for (const offset of offsets) bytes.fill(0, offset, offset + 4);
  return bytes;
}

function locateSlots(bytes: Uint8Array, shape: ShapeFields, values: ValueFields): Slots {
  const i64 = (value: bigint): Uint8Array => {
    const buffer = Buffer.alloc(8);
    buffer.writeBigInt64LE(value);
    return buffer;
  };
  const f64 = (value: number): Uint8Array => {
    const buffer = Buffer.alloc(8);
    buffer.writeDoubleLE(value);
    return buffer;
  };
  const u32s = (array: Uint32Array): Uint8Array => {
    const buffer = Buffer.alloc(array.length * 4);
    array.forEach((value, index) => buffer.writeUInt32LE(value, index * 4));
    return buffer;
  };
  const f64s = (array: Float64Array): Uint8Array => {
    const buffer = Buffer.alloc(array.length * 8);
    array.forEach((value, index) => buffer.writeDoubleLE(value, index * 8));
    return buffer;
  };
  const haystack = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const find = (label: string, needle: Uint8Array): number => {
    const first = haystack.indexOf(needle);
    if (first < 0 || haystack.indexOf(needle, first + 1) >= 0) {
      throw new RuntimeFailure(`chunk template: cannot locate the ${label} field in the HDF5 bytes written by h5wasm; this is a wavefier bug`);
    }
    return first;
  };
  return {
    seq: find('wavefier_seq', i64(values.seq)),
    gpsMeta: find('/meta/GPSstart', i64(values.gpsMeta)),
    xstartStrain: find('Strain Xstart', i64(values.xstartStrain)),
    xstartDq: shape.hasDq ? find('DQmask Xstart', i64(values.xstartDq)) : undefined,
    sourceGps: find('wavefier_source_gps', f64(values.sourceGps)),
    tAvail: find('wavefier_t_avail', f64(values.tAvail)),
    utcStart: find('/meta/UTCstart', Buffer.from(values.utcStart, 'ascii')),
    samples: find('/strain/Strain data', f64s(values.samples)),
    dqMask: shape.hasDq ? find('DQmask data', u32s(values.dqMask)) : undefined,
  };
}

function patch(template: Template, values: ValueFields): Uint8Array {
  const out = template.bytes.slice();
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const { slots } = template;
  view.setBigInt64(slots.seq, values.seq, true);
  view.setBigInt64(slots.gpsMeta, values.gpsMeta, true);
  view.setBigInt64(slots.xstartStrain, values.xstartStrain, true);
  if (slots.xstartDq !== undefined) view.setBigInt64(slots.xstartDq, values.xstartDq, true);
  view.setFloat64(slots.sourceGps, values.sourceGps, true);
  view.setFloat64(slots.tAvail, values.tAvail, true);
  for (let index = 0; index < utcLength; index++) out[slots.utcStart + index] = values.utcStart.charCodeAt(index) & 0x7f;
  const samples = values.samples;
  if (littleEndian) {
    out.set(new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength), slots.samples);
  } else {
    for (let index = 0; index < samples.length; index++) view.setFloat64(slots.samples + index * 8, samples[index] as number, true);
  }
  if (slots.dqMask !== undefined) {
    for (let index = 0; index < values.dqMask.length; index++) view.setUint32(slots.dqMask + index * 4, values.dqMask[index] as number, true);
  }
  return out;
}

/**
 * Parses chunk bytes written by `encodeChunk`; throws InputError saying what is wrong with them.
 *
 * The first chunk of each shape is parsed by h5wasm (~3 ms). If its bytes are exactly the template
 * of that shape outside the per-chunk fields, the template is remembered, and later chunks whose
 * bytes match it everywhere but in those fields are read straight from the bytes (~0.02 ms): such a
 * file is, byte for byte, what the HDF5 library writes for those values. Anything else takes the
 * h5wasm path.
 */
export function decodeChunk(bytes: Uint8Array, label = 'chunk'): DecodedChunk {
  const fail = (problem: string, cause?: unknown): InputError =>
    new InputError(`${label}: ${problem}`, cause === undefined ? {} : { cause });
  if (bytes.byteLength < 8 || bytes[0] !== 0x89 || bytes[1] !== 0x48 || bytes[2] !== 0x44 || bytes[3] !== 0x46) {
    throw fail(`not an HDF5 file (${bytes.byteLength} bytes without the HDF5 signature)`);
  }
  const fast = decodeFromKnownTemplate(bytes);
  if (fast) {
    decodeCounts.template++;
    return fast;
  }
  decodeCounts.h5wasm++;
  const decoded = decodeWithH5wasm(bytes, fail);
  learnTemplate(bytes, decoded);
  return decoded;
}

interface DecodeTemplate {
  shape: ShapeFields;
  template: Template;
  /** Byte ranges [start, end) outside the per-chunk fields. */
  fixed: [number, number][];
}

const decodeTemplates: DecodeTemplate[] = [];
const decodeCounts = { template: 0, h5wasm: 0 };

/** How many decodes took each path (for tests and diagnostics). */
export function decodePathCounts(): { template: number; h5wasm: number } {
  return { ...decodeCounts };
}

function fixedRanges(template: Template, shape: ShapeFields): [number, number][] {
  const { slots } = template;
  const fields: [number, number][] = [
    [slots.seq, 8],
    [slots.gpsMeta, 8],
    [slots.xstartStrain, 8],
    [slots.sourceGps, 8],
    [slots.tAvail, 8],
    [slots.utcStart, utcLength],
    [slots.samples, shape.duration * shape.sampleRate * 8],
  ];
  if (slots.xstartDq !== undefined) fields.push([slots.xstartDq, 8]);
  if (slots.dqMask !== undefined) fields.push([slots.dqMask, shape.duration * 4]);
  fields.sort((a, b) => a[0] - b[0]);
  const ranges: [number, number][] = [];
  let cursor = 0;
  for (const [start, length] of fields) {
    if (start > cursor) ranges.push([cursor, start]);
    cursor = Math.max(cursor, start + length);
  }
  if (cursor < template.bytes.length) ranges.push([cursor, template.bytes.length]);
  return ranges;
}

function matches(bytes: Uint8Array, known: DecodeTemplate): boolean {
  if (bytes.byteLength !== known.template.bytes.byteLength) return false;
  const a = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const b = Buffer.from(known.template.bytes.buffer, known.template.bytes.byteOffset, known.template.bytes.byteLength);
  return known.fixed.every(([start, end]) => a.compare(b, start, end, start, end) === 0);
}

function learnTemplate(bytes: Uint8Array, decoded: DecodedChunk): void {
  const shape: ShapeFields = {
    runId: decoded.runId,
    duration: decoded.duration,
    sampleRate: decoded.sampleRate,
    detector: decoded.detector,
    observatory: decoded.observatory,
    sourceKind: decoded.sourceKind,
    sourceFile: decoded.sourceFile,
    hasDq: decoded.dqMask !== undefined,
  };
  if (!Number.isSafeInteger(shape.duration) || !Number.isSafeInteger(shape.sampleRate) || decoded.samples.length !== shape.duration * shape.sampleRate) return;
  if (decoded.dqMask !== undefined && decoded.dqMask.length !== shape.duration) return;
  let template: Template;
  try {
    template = templateFor(shape);
  } catch {
    return;
  }
  const known = { shape, template, fixed: fixedRanges(template, shape) };
  // A chunk from another wavefier version (or another writer) does not match: it keeps the slow path.
  if (!matches(bytes, known)) return;
  if (decodeTemplates.length >= maxTemplates) decodeTemplates.shift();
  decodeTemplates.push(known);
}

function decodeFromKnownTemplate(bytes: Uint8Array): DecodedChunk | undefined {
  const known = decodeTemplates.find((candidate) => matches(bytes, candidate));
  if (!known) return undefined;
  const { shape, template } = known;
  const { slots } = template;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const seq = Number(view.getBigInt64(slots.seq, true));
  const gpsStart = Number(view.getBigInt64(slots.xstartStrain, true));
  const gpsMeta = Number(view.getBigInt64(slots.gpsMeta, true));
  const gpsDq = slots.xstartDq === undefined ? gpsStart : Number(view.getBigInt64(slots.xstartDq, true));
  const sourceGps = view.getFloat64(slots.sourceGps, true);
  const tAvail = view.getFloat64(slots.tAvail, true);
  // Values the encoder never writes go to the h5wasm path, which names the problem.
  if (!Number.isSafeInteger(seq) || seq < 0 || !Number.isSafeInteger(gpsStart) || gpsMeta !== gpsStart || gpsDq !== gpsStart) return undefined;
  if (!Number.isFinite(sourceGps) || !Number.isFinite(tAvail)) return undefined;
  const count = shape.duration * shape.sampleRate;
  const samples = new Float64Array(count);
  new Uint8Array(samples.buffer).set(bytes.subarray(slots.samples, slots.samples + count * 8));
  if (!littleEndian) for (let index = 0; index < count; index++) samples[index] = view.getFloat64(slots.samples + index * 8, true);
  let dqMask: number[] | undefined;
  if (slots.dqMask !== undefined) {
    const start = slots.dqMask;
    dqMask = Array.from({ length: shape.duration }, (_, index) => view.getUint32(start + index * 4, true));
  }
  noteTransientBytes(samples.byteLength);
  return {
    runId: shape.runId,
    seq,
    gpsStart,
    duration: shape.duration,
    sampleRate: shape.sampleRate,
    samples,
    detector: shape.detector,
    observatory: shape.observatory,
    sourceKind: shape.sourceKind,
    ...(shape.sourceFile === undefined ? {} : { sourceFile: shape.sourceFile }),
    sourceGps,
    tAvail,
    ...(dqMask === undefined ? {} : { dqMask }),
    formatVersion: chunkFormatVersion,
  };
}

function decodeWithH5wasm(bytes: Uint8Array, fail: Fail): DecodedChunk {
  const path = scratchPath('decode');
  writeFileSync(path, bytes);
  let file: H5File | undefined;
  try {
    try {
      file = new DiskFile(path, 'r');
    } catch (error) {
      throw fail(`cannot open as HDF5: ${hdf5Reason(error)}`, error);
    }
    return readChunk(file, fail);
  } catch (error) {
    if (error instanceof InputError) throw error;
    throw fail(`unreadable HDF5 content: ${hdf5Reason(error)}`, error);
  } finally {
    file?.close();
    rmSync(path, { force: true });
  }
}

type Fail = (problem: string, cause?: unknown) => InputError;

function readChunk(file: H5File, fail: Fail): DecodedChunk {
  const number = (entity: Dataset | Group, name: string, where: string): number => {
    const value = asNumber(attribute(entity, name));
    if (value === undefined || !Number.isFinite(value)) throw fail(`${where} attribute ${name} is missing or not a number`);
    return value;
  };
  const string = (entity: Dataset | Group, name: string, where: string): string => {
    const value = asString(attribute(entity, name));
    if (value === undefined) throw fail(`${where} attribute ${name} is missing or not a string`);
    return value;
  };
  const formatVersion = number(file, 'wavefier_format', 'root');
  if (formatVersion !== chunkFormatVersion) {
    throw fail(`chunk format version ${formatVersion} is not supported (this wavefier reads version ${chunkFormatVersion}); upgrade wavefier`);
  }
  const sourceKind = string(file, 'wavefier_source_kind', 'root');
  if (sourceKind !== 'file' && sourceKind !== 'synthetic') throw fail(`root attribute wavefier_source_kind is ${JSON.stringify(sourceKind)}`);
  const sourceFile = asString(attribute(file, 'wavefier_source_file'));

  const strain = file.get('strain/Strain');
  if (!isDataset(strain)) throw fail('no /strain/Strain dataset');
  const samples = strain.value;
  if (!(samples instanceof Float64Array)) throw fail('/strain/Strain does not hold float64 samples');
  const xspacing = number(strain, 'Xspacing', '/strain/Strain');
  const sampleRate = Math.round(1 / xspacing);
  const npoints = number(strain, 'Npoints', '/strain/Strain');
  if (npoints !== samples.length) throw fail(`/strain/Strain Npoints ${npoints} differs from its ${samples.length} samples`);
  const gpsStart = number(strain, 'Xstart', '/strain/Strain');

  const metaNumber = (key: string): number => {
    const value = asNumber(datasetValue(file, `meta/${key}`)?.value);
    if (value === undefined) throw fail(`/meta/${key} is missing or not a number`);
    return value;
  };
  const metaString = (key: string): string => {
    const value = asString(datasetValue(file, `meta/${key}`)?.value);
    if (value === undefined) throw fail(`/meta/${key} is missing or not a string`);
    return value;
  };
  const duration = metaNumber('Duration');
  if (Math.abs(duration * sampleRate - samples.length) > 1e-9) {
    throw fail(`/meta/Duration ${duration} s at ${sampleRate} Hz does not match ${samples.length} samples`);
  }
  if (metaNumber('GPSstart') !== gpsStart) throw fail(`/meta/GPSstart differs from /strain/Strain Xstart ${gpsStart}`);

  const dq = datasetValue(file, 'quality/simple/DQmask')?.value;
  const dqMask = dq instanceof Uint32Array ? Array.from(dq) : undefined;
  return {
    runId: string(file, 'wavefier_run_id', 'root'),
    seq: number(file, 'wavefier_seq', 'root'),
    gpsStart,
    duration,
    sampleRate,
    samples,
    detector: metaString('Detector'),
    observatory: metaString('Observatory'),
    sourceKind,
    ...(sourceFile === undefined ? {} : { sourceFile }),
    sourceGps: number(file, 'wavefier_source_gps', 'root'),
    tAvail: number(file, 'wavefier_t_avail', 'root'),
    ...(dqMask === undefined ? {} : { dqMask }),
    formatVersion,
  };
}
