import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildReport, writeHtml, writePlots } from '../../src/report/index.js';
import { writeSyntheticRun } from '../../tools/fixtures/synthetic-logs.js';
import { scratchDirPerTest } from '../helpers/scratch.js';

const scratch = scratchDirPerTest('wavefier-report-');

const pngSignature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

describe('report plots (Vega-Lite → SVG → PNG with resvg)', () => {
  it('writes histograms and the latency-over-time plot as SVG and PNG, and an HTML page with them inline', async () => {
    // One slow outlier: the histogram cuts it and says so instead of squashing the body.
    await writeSyntheticRun({ logDir: scratch.path, run: 'p', chunks: 1200, uploadLatencyMs: (seq) => (seq === 7 ? 60_000 : 1500 + (seq % 50) * 10) });
    const report = await buildReport([scratch.path]);
    const out = join(scratch.path, 'plots');
    const result = await writePlots(report, out);
    expect(result.warnings).toEqual([]);
    const names = result.files.map((file) => file.slice(out.length + 1)).sort();
    expect(names).toEqual([
      'detection-delay.png',
      'detection-delay.svg',
      'latency-cdf.png',
      'latency-cdf.svg',
      'latency-over-time.png',
      'latency-over-time.svg',
      'total-latency.png',
      'total-latency.svg',
      'upload-latency.png',
      'upload-latency.svg',
    ]);
    for (const file of result.files.filter((name) => name.endsWith('.png'))) {
      const bytes = await readFile(file);
      expect(bytes.subarray(0, 8).equals(pngSignature)).toBe(true);
      expect(bytes.length).toBeGreaterThan(5_000);
    }
    const uploadSvg = await readFile(join(out, 'upload-latency.svg'), 'utf8');
    expect(uploadSvg).toMatch(/^<svg/);
    expect(uploadSvg).toContain('Upload latency: median');
    expect(uploadSvg).toContain('1 chunk above');
    expect(uploadSvg).toContain('DejaVu Sans');
    // One path per series, so a long run stays a light file.
    expect((await stat(join(out, 'latency-over-time.svg'))).size).toBeLessThan(200_000);

    const html = await readFile(await writeHtml(report, out, result.plots), 'utf8');
    expect(html.match(/<img alt="[^"]+" src="data:image\/png;base64,/g)).toHaveLength(5);
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
  });

  it('warns, and still draws, when the font file is missing; leaves out plots without data', async () => {
    await writeSyntheticRun({ logDir: scratch.path, run: 'q', chunks: 20, withoutDownloadLog: true });
    const report = await buildReport([scratch.path]);
    const result = await writePlots(report, join(scratch.path, 'plots'), { fontFile: join(scratch.path, 'no-such-font.ttf') });
    expect(result.warnings.join('\n')).toMatch(/no-such-font\.ttf not found: .*install fonts-dejavu-core/);
    expect(result.warnings.join('\n')).toMatch(/no total latencies in the logs/);
    expect(result.plots.map((plot) => plot.name)).toEqual(['upload-latency', 'latency-cdf', 'latency-over-time']);
    expect(result.plots.every((plot) => plot.png !== undefined)).toBe(true);
  });
});
