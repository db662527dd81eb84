import { definedProps } from '../common/defined.js';
import { openStrainFileSync, type GpsGap, type StrainFileInfo } from './strain-file.js';

/** What `wavefier inspect` reports for one file; JSON-serialisable. */
export interface StrainFileSummary extends Omit<StrainFileInfo, 'dq'> {
  nanSamples: number;
  nanGaps: GpsGap[];
  dq?: DqSummary;
}

export interface DqSummary {
  seconds: number;
  spacing: number;
  bits?: number;
  /** Seconds of the mask in which every declared bit is set. */
  allBitsSet: number;
  /** For each declared bit: how many mask values have it set. */
  perBit: { bit: number; name?: string; set: number }[];
}

/** Opens, validates and scans a strain file (NaN gaps block by block); throws InputError for bad files. */
export function summariseStrainFile(path: string): StrainFileSummary {
  const file = openStrainFileSync(path);
  try {
    const { info } = file;
    const nanGaps = file.findGaps();
    const nanSamples = nanGaps.reduce((sum, gap) => sum + gap.samples, 0);
    let dq: DqSummary | undefined;
    if (info.dq) {
      const bitCount = info.dq.bits ?? info.dq.shortnames?.length ?? Math.max(0, ...info.dq.mask.map((value) => 32 - Math.clz32(value)));
      const full = bitCount >= 32 ? 0xffffffff : 2 ** bitCount - 1;
      const perBit = Array.from({ length: bitCount }, (_, bit) => {
        const name = info.dq?.shortnames?.[bit];
        return { bit, ...definedProps({ name }), set: info.dq?.mask.filter((value) => ((value >>> bit) & 1) === 1).length ?? 0 };
      });
      dq = {
        seconds: info.dq.mask.length * info.dq.spacing,
        spacing: info.dq.spacing,
        ...definedProps({ bits: info.dq.bits }),
        allBitsSet: info.dq.mask.filter((value) => (value & full) >>> 0 === full >>> 0).length,
        perBit,
      };
    }
    return {
      file: info.file,
      path: info.path,
      layout: info.layout,
      detector: info.detector,
      observatory: info.observatory,
      gpsStart: info.gpsStart,
      gpsEnd: info.gpsEnd,
      duration: info.duration,
      sampleRate: info.sampleRate,
      sampleCount: info.sampleCount,
      dtype: info.dtype,
      ...definedProps({ utcStart: info.utcStart }),
      nanSamples,
      nanGaps,
      ...definedProps({ dq, chunk: info.chunk }),
    };
  } finally {
    file.close();
  }
}
