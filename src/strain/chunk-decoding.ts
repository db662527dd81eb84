import { rmSync, writeFileSync } from 'node:fs';
import { definedProps } from '../common/defined.js';
import { InputError } from '../common/errors.js';
import { chunkFormatVersion, littleEndian, maxTemplates, shapeKey, templateFor, utcLength, type ShapeFields, type Template } from './chunk-template.js';
import { asNumber, asString, attributeReader, datasetValue, DiskFile, hdf5Reason, isDataset } from './hdf5.js';
import type { Chunk } from './chunk.js';
import type { H5File } from './hdf5.js';
import { noteTransientBytes } from './memory-governor.js';
import { scratchPath } from './scratch-files.js';

/** A chunk as read back from its bytes: the Chunk fields plus its origin, t_avail and format. */
export interface DecodedChunk
  extends Pick<Chunk, 'runId' | 'seq' | 'gpsStart' | 'duration' | 'sampleRate' | 'samples' | 'detector' | 'observatory' | 'dqMask'> {
  sourceKind: 'file' | 'synthetic';
  sourceFile?: string;
  sourceGps: number;
  tAvail: number;
  formatVersion: number;
}

/**
 * The bytes are not a wavefier chunk at all: not HDF5, or HDF5 without the chunk attributes (a GWOSC
 * file, say). A file that has them but does not decode is a broken chunk, an InputError.
 */
export class NotAChunkError extends InputError {}

/**
 * Parses chunk bytes written by `encodeChunk`; throws InputError saying what is wrong with them
 * (NotAChunkError when they are not a wavefier chunk at all).
 *
 * The first chunk of each shape is parsed by h5wasm (~3 ms). If its bytes are exactly the template
 * of that shape outside the per-chunk fields, the template is remembered, and later chunks whose
 * bytes match it everywhere but in those fields are read straight from the bytes (~0.02 ms): such a
 * file is, byte for byte, what the HDF5 library writes for those values. Anything else takes the
 * h5wasm path. A shape announced before its first chunk (expectChunkShape) has its template already.
 */
export function decodeChunk(bytes: Uint8Array, label = 'chunk', options: DecodeOptions = {}): DecodedChunk {
  const fail = (problem: string, cause?: unknown): InputError =>
    new InputError(`${label}: ${problem}`, definedProps({ cause }));
  if (bytes.byteLength < 8 || bytes[0] !== 0x89 || bytes[1] !== 0x48 || bytes[2] !== 0x44 || bytes[3] !== 0x46) {
    throw new NotAChunkError(`${label}: not an HDF5 file (${bytes.byteLength} bytes without the HDF5 signature)`);
  }
  const fast = decodeFromKnownTemplate(bytes);
  if (fast) {
    decodeCounts.template++;
    return fast;
  }
  decodeCounts.h5wasm++;
  const decoded = decodeWithH5wasm(bytes, fail);
  if (options.deferLearning === undefined) learnTemplate(bytes, decoded);
  else options.deferLearning(() => learnTemplate(bytes, decoded));
  return decoded;
}

export interface DecodeOptions {
  /**
   * Learning the template of a new shape costs two HDF5 writes (~10 ms); a caller that must answer
   * fast (a download worker, whose first chunk of each run takes this path) runs it later, e.g. once
   * its answer is out. Until then, chunks of that shape take the h5wasm path (and learn again).
   */
  deferLearning?: (learn: () => void) => void;
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

/**
 * Prepares the fast path for chunks of a shape announced before they exist (a producer tells its
 * consumer the shape of its run's chunks): builds the shape's template now (~10 ms of HDF5 writes)
 * instead of decoding the first chunk with h5wasm (~3 ms) and building it afterwards. Resolves to
 * whether the template is there to use; a shape that cannot be built is ignored (its chunks learn it
 * the usual way).
 *
 * Safe whatever the announcement says, even wrong or hostile: the template path takes only bytes
 * equal to the template everywhere outside the per-chunk fields, i.e. the bytes the HDF5 library
 * writes for exactly that run id, detector, rate, source... (templateFor proves its template
 * against a second h5wasm file), so the values it returns are what the bytes say. Chunks of any
 * other shape do not match and take the h5wasm path, which reads and checks them in full.
 */
export function expectChunkShape(shape: ShapeFields): boolean {
  if (!Number.isSafeInteger(shape.duration) || shape.duration <= 0 || !Number.isSafeInteger(shape.sampleRate) || shape.sampleRate <= 0) return false;
  if (shape.runId === '' || shape.detector === '' || shape.observatory === '') return false;
  const key = shapeKey(shape);
  if (decodeTemplates.some((known) => shapeKey(known.shape) === key)) return true;
  let template: Template;
  try {
    template = templateFor(shape);
  } catch {
    return false;
  }
  remember({ shape, template, fixed: fixedRanges(template, shape) });
  return true;
}

function remember(known: DecodeTemplate): void {
  if (decodeTemplates.length >= maxTemplates) decodeTemplates.shift();
  decodeTemplates.push(known);
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
  // A deferred learning may come after another chunk of the shape already taught it.
  if (decodeTemplates.some((known) => matches(bytes, known))) return;
  let template: Template;
  try {
    template = templateFor(shape);
  } catch {
    return;
  }
  const known = { shape, template, fixed: fixedRanges(template, shape) };
  // A chunk from another wavefier version (or another writer) does not match: it keeps the slow path.
  if (!matches(bytes, known)) return;
  remember(known);
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
    ...definedProps({ sourceFile: shape.sourceFile }),
    sourceGps,
    tAvail,
    ...definedProps({ dqMask }),
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
      throw new NotAChunkError(fail(`cannot open as HDF5: ${hdf5Reason(error)}`).message, { cause: error });
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
  type Attributes = ReturnType<typeof attributeReader>;
  const number = (attributes: Attributes, name: string, where: string): number => {
    const value = asNumber(attributes(name));
    if (value === undefined || !Number.isFinite(value)) throw fail(`${where} attribute ${name} is missing or not a number`);
    return value;
  };
  const string = (attributes: Attributes, name: string, where: string): string => {
    const value = asString(attributes(name));
    if (value === undefined) throw fail(`${where} attribute ${name} is missing or not a string`);
    return value;
  };
  const root = attributeReader(file);
  if (root('wavefier_format') === undefined) throw new NotAChunkError(fail('HDF5 without the root attribute wavefier_format: not a wavefier chunk').message);
  const formatVersion = number(root, 'wavefier_format', 'root');
  if (formatVersion !== chunkFormatVersion) {
    throw fail(`chunk format version ${formatVersion} is not supported (this wavefier reads version ${chunkFormatVersion}); upgrade wavefier`);
  }
  const sourceKind = string(root, 'wavefier_source_kind', 'root');
  if (sourceKind !== 'file' && sourceKind !== 'synthetic') throw fail(`root attribute wavefier_source_kind is ${JSON.stringify(sourceKind)}`);
  const sourceFile = asString(root('wavefier_source_file'));

  const strain = file.get('strain/Strain');
  if (!isDataset(strain)) throw fail('no /strain/Strain dataset');
  const samples = strain.value;
  if (!(samples instanceof Float64Array)) throw fail('/strain/Strain does not hold float64 samples');
  const strainAttributes = attributeReader(strain);
  const xspacing = number(strainAttributes, 'Xspacing', '/strain/Strain');
  const sampleRate = Math.round(1 / xspacing);
  const npoints = number(strainAttributes, 'Npoints', '/strain/Strain');
  if (npoints !== samples.length) throw fail(`/strain/Strain Npoints ${npoints} differs from its ${samples.length} samples`);
  const gpsStart = number(strainAttributes, 'Xstart', '/strain/Strain');

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
    runId: string(root, 'wavefier_run_id', 'root'),
    seq: number(root, 'wavefier_seq', 'root'),
    gpsStart,
    duration,
    sampleRate,
    samples,
    detector: metaString('Detector'),
    observatory: metaString('Observatory'),
    sourceKind,
    ...definedProps({ sourceFile }),
    sourceGps: number(root, 'wavefier_source_gps', 'root'),
    tAvail: number(root, 'wavefier_t_avail', 'root'),
    ...definedProps({ dqMask }),
    formatVersion,
  };
}
