import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError } from '../../src/common/errors.js';
import { openStrainFile, summariseStrainFile, writeGwoscFile } from '../../src/strain/index.js';
import { h1_16k, h1_4k, l1_4k, scratchDir, testSample } from '../fixtures/strain/files.js';

const scratch = scratchDir('strain-file');
afterAll(() => scratch.cleanup());

interface Reference {
  path: string;
  detector: string;
  observatory: string;
  gpsStart: number;
  rate: number;
  samples: number;
  first: number[];
  last: number;
  min: [number, number];
  max: [number, number];
}

// Values from /work/shared/data/gwosc/README.md (h5py + numpy).
const references: Reference[] = [
  {
    path: h1_4k,
    detector: 'H1',
    observatory: 'H',
    gpsStart: 1126259446,
    rate: 4096,
    samples: 131072,
    first: [2.177040281449375e-19, 2.087638998830647e-19, 2.396811834449611e-19, 2.286722304215784e-19, 2.1322403767924576e-19],
    last: 7.5812119511653e-20,
    min: [-7.044665943156067e-19, 85597],
    max: [7.706262192397465e-19, 85892],
  },
  {
    path: h1_16k,
    detector: 'H1',
    observatory: 'H',
    gpsStart: 1126259446,
    rate: 16384,
    samples: 524288,
    first: [2.237498230931858e-19, 2.0367469531460703e-19, 2.1595854639488717e-19, 2.2169038125253014e-19, 2.0219046359923691e-19],
    last: 4.4387424684193406e-20,
    min: [-7.368665303435229e-19, 342422],
    max: [7.912043421880075e-19, 343533],
  },
  {
    path: l1_4k,
    detector: 'L1',
    observatory: 'L',
    gpsStart: 1167559920,
    rate: 4096,
    samples: 131072,
    first: [-1.529575361892103e-18, -1.5658362180560597e-18, -1.5783734929189223e-18, -1.5530889074307993e-18, -1.5309200446788843e-18],
    last: -1.4351141706333574e-18,
    min: [-2.5975507121314415e-18, 9674],
    max: [-3.017557329612972e-19, 9943],
  },
];

describe('openStrainFile on the real LOSC files', () => {
  for (const ref of references) {
    it(`reads ${ref.path.split('/').at(-1) ?? ''} with the reference values`, async () => {
      const file = await openStrainFile(ref.path);
      try {
        const { info } = file;
        expect(info.detector).toBe(ref.detector);
        expect(info.observatory).toBe(ref.observatory);
        expect(info.gpsStart).toBe(ref.gpsStart);
        expect(info.duration).toBe(32);
        expect(info.gpsEnd).toBe(ref.gpsStart + 32);
        expect(info.sampleRate).toBe(ref.rate);
        expect(info.sampleCount).toBe(ref.samples);
        expect(info.layout).toBe('losc-vlen-strings');
        expect(info.dq?.mask).toEqual(new Array<number>(32).fill(127));
        expect(info.dq?.bits).toBe(7);
        expect(info.dq?.shortnames?.[0]).toBe('DATA');

        expect(Array.from(file.readSlice(0, 5))).toEqual(ref.first);
        expect(file.readSlice(ref.samples - 1, 1)[0]).toBe(ref.last);
        // Whole file in 1 s slices: min/max and their positions as numpy found them.
        let min = Infinity;
        let max = -Infinity;
        let minAt = -1;
        let maxAt = -1;
        for (let second = 0; second < 32; second++) {
          const slice = file.readSlice(second * ref.rate, ref.rate);
          slice.forEach((value, index) => {
            if (value < min) [min, minAt] = [value, second * ref.rate + index];
            if (value > max) [max, maxAt] = [value, second * ref.rate + index];
          });
        }
        expect([min, minAt]).toEqual(ref.min);
        expect([max, maxAt]).toEqual(ref.max);
        expect(file.findGaps()).toEqual([]);
      } finally {
        file.close();
      }
    });
  }

  it('refuses a slice outside the file with an InputError', async () => {
    const file = await openStrainFile(h1_4k);
    try {
      expect(() => file.readSlice(131070, 5)).toThrow(/outside the 131072 samples/);
      expect(() => file.readSlice(-1, 5)).toThrow(InputError);
    } finally {
      file.close();
    }
  });
});

describe('generated GWOSC-layout files', () => {
  it('reads the old LOSC layout with fixed-length NUL-padded strings and BigInt attributes', async () => {
    const path = join(scratch.dir, 'H-H1_LOSC_4_V1-1126259446-4.hdf5');
    writeGwoscFile(path, { detector: 'H1', gpsStart: 1126259446, duration: 4, sampleRate: 4096, sample: testSample, fixedStrings: true, dq: () => 127 });
    const file = await openStrainFile(path);
    try {
      expect(file.info.layout).toBe('losc-fixed-strings');
      expect(file.info.detector).toBe('H1');
      expect(file.info.observatory).toBe('H');
      expect(file.info.utcStart).toMatch(/^2015-09-14T09:50:\d\d$/);
      expect(file.info.gpsStart).toBe(1126259446);
      expect(file.info.sampleCount).toBe(4 * 4096);
      expect(file.readSlice(4096, 3)).toEqual(Float64Array.of(testSample(4096), testSample(4097), testSample(4098)));
    } finally {
      file.close();
    }
  });

  it('reports NaN gaps as GPS intervals, merged across read blocks', async () => {
    const path = join(scratch.dir, 'gaps.hdf5');
    const isNan = (i: number): boolean => (i >= 4000 && i < 4200) || (i >= 3 * 4096 && i < 5 * 4096);
    writeGwoscFile(path, {
      detector: 'L1',
      gpsStart: 1000000000,
      duration: 8,
      sampleRate: 4096,
      sample: (i) => (isNan(i) ? NaN : testSample(i)),
      descriptionUrl: 'https://gwosc.org/',
    });
    const file = await openStrainFile(path);
    try {
      const expected = [
        { gpsStart: 1000000000 + 4000 / 4096, gpsEnd: 1000000000 + 4200 / 4096, samples: 200 },
        { gpsStart: 1000000003, gpsEnd: 1000000005, samples: 2 * 4096 },
      ];
      expect(file.findGaps(1000)).toEqual(expected);
      expect(file.findGaps()).toEqual(expected);
    } finally {
      file.close();
    }
    expect(summariseStrainFile(path)).toMatchObject({ nanSamples: 200 + 2 * 4096, layout: 'gwosc' });
  });

  it('summarises a partial DQ mask per bit', () => {
    const path = join(scratch.dir, 'dq.hdf5');
    writeGwoscFile(path, { detector: 'H1', gpsStart: 1000000000, duration: 4, sampleRate: 256, sample: testSample, dq: (s) => (s === 2 ? 1 : 127) });
    const summary = summariseStrainFile(path);
    expect(summary.dq).toMatchObject({ seconds: 4, allBitsSet: 3 });
    expect(summary.dq?.perBit[0]).toEqual({ bit: 0, name: 'DATA', set: 4 });
    expect(summary.dq?.perBit[1]).toEqual({ bit: 1, name: 'CBC_CAT1', set: 3 });
  });
});

describe('bad input gives one InputError naming the file and the problem', () => {
  const cases: [string, () => string, RegExp][] = [
    ['a missing file', () => join(scratch.dir, 'nope.hdf5'), /nope\.hdf5: no such file/],
    [
      'a file that is not HDF5',
      () => {
        const path = join(scratch.dir, 'text.hdf5');
        writeFileSync(path, 'this is text\n');
        return path;
      },
      /text\.hdf5: not an HDF5 file/,
    ],
    [
      'an empty file',
      () => {
        const path = join(scratch.dir, 'empty.hdf5');
        writeFileSync(path, '');
        return path;
      },
      /empty\.hdf5: empty file/,
    ],
    [
      'a truncated file',
      () => {
        const path = join(scratch.dir, 'truncated.hdf5');
        writeFileSync(path, readFileSync(h1_4k).subarray(0, 500_000));
        return path;
      },
      /truncated\.hdf5: truncated HDF5 file: 500000 bytes on disk but the superblock says 1040592/,
    ],
    [
      'a file without /strain/Strain',
      () => {
        const path = join(scratch.dir, 'nostrain.hdf5');
        writeGwoscFile(path, { detector: 'H1', gpsStart: 1, duration: 1, sampleRate: 16, sample: testSample, omitStrain: true });
        return path;
      },
      /nostrain\.hdf5: no \/strain\/Strain dataset/,
    ],
    [
      'Npoints that disagrees with the dataset length',
      () => {
        const path = join(scratch.dir, 'npoints.hdf5');
        writeGwoscFile(path, { detector: 'H1', gpsStart: 1, duration: 2, sampleRate: 16, sample: testSample, npoints: 64 });
        return path;
      },
      /npoints\.hdf5: \/strain\/Strain Npoints is 64 but the dataset holds 32 samples/,
    ],
    [
      '/meta/Duration that disagrees with Xspacing x length',
      () => {
        const path = join(scratch.dir, 'duration.hdf5');
        writeGwoscFile(path, { detector: 'H1', gpsStart: 1, duration: 2, sampleRate: 16, sample: testSample, metaDuration: 4096 });
        return path;
      },
      /duration\.hdf5: \/meta\/Duration is 4096 s but \/strain\/Strain has 32 samples at Xspacing 0\.0625 \(2 s\)/,
    ],
    ['a directory', () => scratch.dir, /not a regular file/],
  ];
  for (const [what, make, message] of cases) {
    it(what, async () => {
      const path = make();
      const error = await openStrainFile(path).then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(InputError);
      expect((error as InputError).message).toMatch(message);
      expect((error as InputError).message).not.toContain('\n');
      expect((error as InputError).file).toBe(path);
      expect((error as InputError).exitCode).toBe(2);
    });
  }

  it('still reads a copy of a real file (the fixtures above are the only difference)', async () => {
    const path = join(scratch.dir, 'copy.hdf5');
    copyFileSync(h1_4k, path);
    const file = await openStrainFile(path);
    expect(file.info.sampleCount).toBe(131072);
    file.close();
  });
});

describe('HDF5 value helpers', () => {
  it('strip NUL padding and convert 64-bit integers that arrive as BigInt', async () => {
    const { asNumber, asString, cleanString } = await import('../../src/strain/hdf5.js');
    expect(cleanString('H1\0\0\0\0')).toBe('H1');
    expect(cleanString('\0')).toBe('');
    expect(asString(['L1\0'])).toBe('L1');
    expect(asString(new TextEncoder().encode('V1\0\0') as never)).toBe('V1');
    expect(asNumber(1126259446n)).toBe(1126259446);
    expect(asNumber(BigInt64Array.of(32n))).toBe(32);
    expect(asNumber(2n ** 60n)).toBeUndefined();
    expect(asNumber('32')).toBeUndefined();
  });
});
