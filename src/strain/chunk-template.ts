import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { endianness } from 'node:os';
import { RuntimeFailure } from '../common/errors.js';
import { DiskFile } from './hdf5.js';
import { scratchPath } from './scratch-files.js';

/**
 * The chunk file template: chunk <-> HDF5 bytes, in the GWOSC layout plus `wavefier_*` root
 * attributes that make a chunk self-describing.
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

export interface ShapeFields {
  runId: string;
  duration: number;
  sampleRate: number;
  detector: string;
  observatory: string;
  sourceKind: 'file' | 'synthetic';
  sourceFile: string | undefined;
  hasDq: boolean;
}

export interface ValueFields {
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

export interface Slots {
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

export interface Template {
  bytes: Uint8Array;
  slots: Slots;
}

export const utcLength = 19;
export const littleEndian = endianness() === 'LE';
const templates = new Map<string, Template>();
export const maxTemplates = 32;

/** The same shape gives the same key, whatever order its fields were written in and whether an absent sourceFile is there as undefined. */
export function shapeKey(shape: ShapeFields): string {
  return JSON.stringify([shape.runId, shape.duration, shape.sampleRate, shape.detector, shape.observatory, shape.sourceKind, shape.sourceFile ?? null, shape.hasDq]);
}

/** The template of a chunk shape, built (and self-checked) on first use. */
export function templateFor(shape: ShapeFields): Template {
  const key = shapeKey(shape);
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

/** A copy of the template with every per-chunk field overwritten. */
export function patch(template: Template, values: ValueFields): Uint8Array {
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
