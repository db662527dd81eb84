import { readFileSync, writeFileSync } from 'node:fs';
import { definedProps } from '../common/defined.js';
import { UsageError } from '../common/errors.js';
import { gpsToUnixMs } from '../common/gps.js';
import { DiskFile } from './hdf5.js';
import type { Dataset, Group } from './hdf5.js';

/**
 * Writes a strain file in the GWOSC/LOSC layout, block by block so that even a 4096 s file never sits
 * in memory. It exists for generated fixtures and benchmarks: files with NaN gaps, the old
 * fixed-length-string LOSC flavour, or deliberately inconsistent metadata, none of which can be
 * obtained as real data here.
 */
export interface GwoscFileSpec {
  detector: string;
  gpsStart: number;
  duration: number;
  sampleRate: number;
  /** Sample value at index i (absolute in the file); NaN allowed. */
  sample: (index: number) => number;
  /** LOSC 2016 flavour: every string fixed-length and NUL-padded. */
  fixedStrings?: boolean;
  /** Deflate level for /strain/Strain (none when absent). */
  compression?: number;
  /** Samples per HDF5 chunk of /strain/Strain (default: one second). */
  chunkSamples?: number;
  /** Per-second DQ value; no /quality/simple when absent. */
  dq?: (second: number) => number;
  /** Overrides for invalid-file fixtures. */
  npoints?: number;
  metaDuration?: number;
  omitStrain?: boolean;
  descriptionUrl?: string;
}

export function writeGwoscFile(path: string, spec: GwoscFileSpec): void {
  const total = spec.duration * spec.sampleRate;
  if (!Number.isSafeInteger(total) || total <= 0) throw new UsageError(`cannot write ${spec.duration} s at ${spec.sampleRate} Hz`);
  const file = new DiskFile(path, 'w', { libver: ['earliest', 'v108'] });
  const fixedSizes = new Set<number>();
  try {
    const text = (group: Group, name: string, value: string): void => {
      fixedSizes.add(value.length + 2);
      if (spec.fixedStrings) group.create_dataset({ name, data: value, dtype: `A${value.length + 2}` });
      else group.create_dataset({ name, data: value });
    };
    const textAttribute = (entity: Dataset | Group, name: string, value: string): void => {
      fixedSizes.add(Math.max(1, value.length));
      if (spec.fixedStrings) entity.create_attribute(name, value, null, `A${Math.max(1, value.length)}`);
      else entity.create_attribute(name, value);
    };
    const i64 = (value: number): BigInt64Array => BigInt64Array.of(BigInt(value));

    const meta = file.create_group('meta');
    text(meta, 'Description', 'Strain data time series from LIGO');
    text(meta, 'DescriptionURL', spec.descriptionUrl ?? 'http://losc.ligo.org/');
    text(meta, 'Detector', spec.detector);
    meta.create_dataset({ name: 'Duration', data: i64(spec.metaDuration ?? spec.duration), shape: [], dtype: '<q' });
    meta.create_dataset({ name: 'GPSstart', data: i64(spec.gpsStart), shape: [], dtype: '<q' });
    text(meta, 'Observatory', spec.detector.slice(0, 1));
    text(meta, 'Type', 'StrainTimeSeries');
    text(meta, 'UTCstart', new Date(gpsToUnixMs(spec.gpsStart)).toISOString().slice(0, 19));

    const strainGroup = file.create_group('strain');
    if (!spec.omitStrain) {
      const chunk = Math.min(spec.chunkSamples ?? spec.sampleRate, total);
      const strain = strainGroup.create_dataset({
        name: 'Strain',
        data: new Float64Array(0),
        shape: [0],
        maxshape: [total],
        chunks: [chunk],
        dtype: '<d',
        ...definedProps({ compression: spec.compression }),
      });
      strain.resize([total]);
      const block = spec.sampleRate * 16;
      for (let offset = 0; offset < total; offset += block) {
        const count = Math.min(block, total - offset);
        const values = new Float64Array(count);
        for (let index = 0; index < count; index++) values[index] = spec.sample(offset + index);
        strain.write_slice([[offset, offset + count]], values);
      }
      strain.create_attribute('Xstart', i64(spec.gpsStart), [], '<q');
      strain.create_attribute('Xspacing', 1 / spec.sampleRate, null, '<d');
      strain.create_attribute('Npoints', i64(spec.npoints ?? total), [], '<q');
      textAttribute(strain, 'Xlabel', 'GPS time');
      textAttribute(strain, 'Xunits', 'second');
      textAttribute(strain, 'Ylabel', 'Strain');
      textAttribute(strain, 'Yunits', '');
    }

    if (spec.dq) {
      const simple = file.create_group('quality').create_group('simple');
      const mask = new Uint32Array(spec.duration);
      for (let second = 0; second < spec.duration; second++) mask[second] = spec.dq(second);
      const dq = simple.create_dataset({ name: 'DQmask', data: mask, shape: [spec.duration], dtype: '<I' });
      dq.create_attribute('Xstart', i64(spec.gpsStart), [], '<q');
      dq.create_attribute('Xspacing', 1, null, '<d');
      dq.create_attribute('Npoints', i64(spec.duration), [], '<q');
      dq.create_attribute('Bits', i64(7), [], '<q');
      const names = ['DATA', 'CBC_CAT1', 'CBC_CAT2', 'CBC_CAT3', 'BURST_CAT1', 'BURST_CAT2', 'BURST_CAT3'];
      simple.create_dataset({ name: 'DQShortnames', data: names, shape: [names.length], dtype: 'A10' });
      fixedSizes.add(10);
    }
  } finally {
    file.close();
  }
  if (spec.fixedStrings) markStringsNullPadded(path, fixedSizes);
}

/**
 * h5wasm writes fixed-length strings as NULLTERM; the 2016 LOSC files use NULLPAD (Yunits is a
 * 1-byte string holding a NUL). This flips the padding bits of every fixed-length ASCII string
 * datatype of the sizes written (class byte 0x13, bit field 0x00 -> 0x01), so fixtures match them.
 * Fixtures only: it scans the whole file for the datatype pattern.
 */
function markStringsNullPadded(path: string, sizes: ReadonlySet<number>): void {
  const bytes = readFileSync(path);
  for (let index = 0; index + 8 <= bytes.length; index++) {
    if (bytes[index] === 0x13 && bytes[index + 1] === 0 && bytes[index + 2] === 0 && bytes[index + 3] === 0 && sizes.has(bytes.readUInt32LE(index + 4))) {
      bytes[index + 1] = 0x01;
    }
  }
  writeFileSync(path, bytes);
}
