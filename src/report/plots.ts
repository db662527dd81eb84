import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RuntimeFailure, errorMessage } from '../common/errors.js';
import { plotFontFamily as fontFamily, plotSpecs } from './plot-specs.js';
import type { Report } from './report-types.js';

export const defaultFontFile = '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf';

export interface RenderedPlot {
  /** File stem: upload-latency, total-latency, latency-over-time. */
  name: string;
  title: string;
  svg: string;
  /** Undefined when the PNG could not be rendered (the SVG still is). */
  png: Buffer | undefined;
}

export interface PlotOptions {
  /** The TrueType font for the PNGs; default DejaVu Sans from fonts-dejavu-core. */
  fontFile?: string;
}

export interface PlotResult {
  plots: RenderedPlot[];
  /** Files written (SVG and PNG). */
  files: string[];
  warnings: string[];
}

/**
 * Renders the plots without a browser: Vega-Lite → Vega → SVG (headless view), SVG → PNG with
 * resvg and an explicit font, since a headless machine may have no fontconfig default.
 */
export async function renderPlots(report: Report, options: PlotOptions = {}): Promise<{ plots: RenderedPlot[]; warnings: string[] }> {
  // Heavy modules, loaded only when plots are asked for.
  const [vega, vegaLite, resvg] = await Promise.all([import('vega'), import('vega-lite'), import('@resvg/resvg-js')]);
  const warnings: string[] = [];
  const fontFile = options.fontFile ?? defaultFontFile;
  const haveFont = existsSync(fontFile);
  if (!haveFont) {
    warnings.push(`font ${fontFile} not found: PNG text falls back to system fonts and may be missing; install fonts-dejavu-core (scripts/setup does)`);
  }
  if (!report.latency.upload) warnings.push('no upload latencies in the logs: upload-latency plot not drawn');
  if (!report.latency.total) warnings.push('no total latencies in the logs: total-latency plot not drawn');
  const plots: RenderedPlot[] = [];
  for (const { name, title, spec } of plotSpecs(report)) {
    let svg: string;
    const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: 'none' });
    try {
      svg = await view.toSVG();
    } catch (error) {
      throw new RuntimeFailure(`cannot draw the ${name} plot: ${errorMessage(error)}; rerun with --no-plots to skip plots`, { cause: error });
    } finally {
      view.finalize();
    }
    let png: Buffer | undefined;
    try {
      const renderer = new resvg.Resvg(svg, {
        fitTo: { mode: 'zoom', value: 2 },
        background: 'white',
        font: haveFont
          ? { fontFiles: [fontFile], loadSystemFonts: false, defaultFontFamily: fontFamily }
          : { loadSystemFonts: true },
      });
      png = renderer.render().asPng();
    } catch (error) {
      warnings.push(`cannot render ${name}.png (the SVG is fine): ${errorMessage(error)}`);
    }
    plots.push({ name, title, svg, png });
  }
  return { plots, warnings };
}

/** Renders the plots and writes `<name>.svg` and `<name>.png` into `dir` (created if needed). */
export async function writePlots(report: Report, dir: string, options: PlotOptions = {}): Promise<PlotResult> {
  const { plots, warnings } = await renderPlots(report, options);
  const files: string[] = [];
  try {
    await mkdir(dir, { recursive: true });
    for (const plot of plots) {
      const svgPath = join(dir, `${plot.name}.svg`);
      await writeFile(svgPath, plot.svg);
      files.push(svgPath);
      if (plot.png) {
        const pngPath = join(dir, `${plot.name}.png`);
        await writeFile(pngPath, plot.png);
        files.push(pngPath);
      }
    }
  } catch (error) {
    throw new RuntimeFailure(`cannot write plots into '${dir}': ${errorMessage(error)}; choose another directory with --plots DIR or skip with --no-plots`, {
      cause: error,
    });
  }
  return { plots, files, warnings };
}
