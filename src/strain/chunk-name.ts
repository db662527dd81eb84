import { UsageError } from '../common/errors.js';
import type { Chunk } from './chunk.js';

export const defaultChunkTag = 'WAVEFIER';

/** Rucio's default DID name pattern and length limit; a name outside them is refused by the server. */
const rucioNamePattern = /^[/A-Za-z0-9][/A-Za-z0-9.\-_]*$/;
const rucioNameMaxLength = 250;
const tagPattern = /^[A-Za-z0-9_]+$/;
const sitePattern = /^[A-Z][A-Z0-9]*$/;
const detectorPattern = /^[A-Z][A-Z0-9]+$/;

/** Checks a user-chosen tag once, at the boundary (a hyphen would break the IGWN field split). */
export function validateChunkTag(tag: string): string {
  if (!tagPattern.test(tag)) {
    throw new UsageError(`chunk tag ${JSON.stringify(tag)} is invalid: use letters, digits and underscores only (e.g. WAVEFIER)`);
  }
  return tag;
}

/** IGWN file name `<SITE>-<IFO>_<TAG>-<GPSSTART>-<DURATION>.hdf5`, e.g. `H-H1_WAVEFIER-1418400000-1.hdf5`. */
export function chunkName(chunk: Pick<Chunk, 'observatory' | 'detector' | 'gpsStart' | 'duration'>, tag: string = defaultChunkTag): string {
  validateChunkTag(tag);
  if (!sitePattern.test(chunk.observatory)) {
    throw new UsageError(`observatory ${JSON.stringify(chunk.observatory)} cannot be an IGWN site code (uppercase letters, e.g. H)`);
  }
  if (!detectorPattern.test(chunk.detector)) {
    throw new UsageError(`detector ${JSON.stringify(chunk.detector)} cannot be an IGWN detector code (e.g. H1, L1, V1)`);
  }
  if (!Number.isSafeInteger(chunk.gpsStart) || chunk.gpsStart < 0) {
    throw new UsageError(`chunk GPS start ${chunk.gpsStart} must be a non-negative integer`);
  }
  if (!Number.isSafeInteger(chunk.duration) || chunk.duration <= 0) {
    throw new UsageError(`chunk duration ${chunk.duration} must be a positive whole number of seconds`);
  }
  const name = `${chunk.observatory}-${chunk.detector}_${tag}-${chunk.gpsStart}-${chunk.duration}.hdf5`;
  if (name.length > rucioNameMaxLength || !rucioNamePattern.test(name)) {
    throw new UsageError(`chunk name ${name} does not fit Rucio's DID name rules (pattern ${rucioNamePattern.source}, at most 250 characters); shorten the tag`);
  }
  return name;
}

export interface ParsedChunkName {
  observatory: string;
  detector: string;
  tag: string;
  gpsStart: number;
  duration: number;
}

const namePattern = /^([A-Z][A-Z0-9]*)-([A-Z][A-Z0-9]+)_([A-Za-z0-9_]+)-(\d+)-(\d+)\.hdf5$/;

/** The fields of an IGWN chunk name, or undefined when the name does not follow the convention. */
export function parseChunkName(name: string): ParsedChunkName | undefined {
  const match = namePattern.exec(name);
  if (!match) return undefined;
  const [, observatory, detector, tag, gps, duration] = match;
  if (observatory === undefined || detector === undefined || tag === undefined || gps === undefined || duration === undefined) return undefined;
  const gpsStart = Number(gps);
  const seconds = Number(duration);
  if (!Number.isSafeInteger(gpsStart) || !Number.isSafeInteger(seconds) || seconds <= 0) return undefined;
  return { observatory, detector, tag, gpsStart, duration: seconds };
}
