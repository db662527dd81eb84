import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RuntimeFailure, errorMessage } from '../common/errors.js';
import { plotFontFamily as fontFamily, plotSpecs } from './plot-specs.js';
import type { Report } from './report-types.js';
import { dejaVuSansWidth } from './text-width.js';

export const defaultFontFile = '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf';

export interface RenderedPlot {
  /** File stem: upload-latency, detection-delay, total-latency, latency-cdf, latency-over-time, compare-cdf. */
  name: string;
  title: string;
  svg: string;
  /** Undefined when the PNG could not be rendered (the SVG still is). */
  png: Buffer | undefined;
}

export interface PlotOptions {
  /** The TrueType font for the PNGs; default DejaVu Sans from fonts-dejavu-core. */
  fontFile?: string;
  /** Another run to compare with (`report --compare`): adds the overlaid CDFs. */
  compare?: Report;
}

export interface PlotResult {
  plots: RenderedPlot[];
  /** Files written (SVG and PNG). */
  files: string[];
  warnings: string[];
}

/** A Vega-Lite logger that hands warnings and errors to `report` instead of the console. */
function specLogger(report: (message: string) => void): { level: (level?: number) => number | typeof logger; warn: (...args: unknown[]) => typeof logger; info: () => typeof logger; debug: () => typeof logger; error: (...args: unknown[]) => typeof logger } {
  let current = 0;
  const logger = {
    level(level?: number) {
      if (level === undefined) return current;
      current = level;
      return logger;
    },
    warn(...args: unknown[]) {
      report(args.map(String).join(' '));
      return logger;
    },
    info: () => logger,
    debug: () => logger,
    error(...args: unknown[]) {
      report(args.map(String).join(' '));
      return logger;
    },
  };
  return logger;
}

/** Blank space kept around what a plot draws, in SVG pixels. */
const cropMargin = 8;

interface ResvgModule {
  Resvg: typeof import('@resvg/resvg-js').Resvg;
}

type FontOptions = NonNullable<NonNullable<ConstructorParameters<ResvgModule['Resvg']>[1]>['font']>;

/**
 * Crops the SVG to what is drawn and lays it on white, so that the file pastes into a slide without
 * a blank margin (Vega sizes the image from its own idea of text widths). What is drawn is read from
 * the pixels of a transparent rendering, text included, which resvg's bounding boxes leave out.
 */
function cropToContent(svg: string, resvg: ResvgModule, font: FontOptions): string {
  const image = new resvg.Resvg(svg, { font }).render();
  const { width, height, pixels } = image;
  let left = width;
  let right = -1;
  let top = height;
  let bottom = -1;
  for (let y = 0; y < height; y++) {
    const row = y * width * 4;
    for (let x = 0; x < width; x++) {
      if ((pixels[row + x * 4 + 3] ?? 0) === 0) continue;
      if (x < left) left = x;
      if (x > right) right = x;
      if (y < top) top = y;
      if (y > bottom) bottom = y;
    }
  }
  if (right < 0) return svg;
  const viewBox = /\sviewBox="([-\d.]+) ([-\d.]+) [-\d.]+ [-\d.]+"/.exec(svg);
  const originX = Number(viewBox?.[1] ?? 0);
  const originY = Number(viewBox?.[2] ?? 0);
  const x = originX + left - cropMargin;
  const y = originY + top - cropMargin;
  const croppedWidth = right - left + 1 + 2 * cropMargin;
  const croppedHeight = bottom - top + 1 + 2 * cropMargin;
  return svg.replace(/<svg\b([^>]*)>/, (_tag: string, attributes: string) => {
    const kept = attributes.replace(/\s(width|height|viewBox)="[^"]*"/g, '');
    return (
      `<svg${kept} width="${croppedWidth}" height="${croppedHeight}" viewBox="${x} ${y} ${croppedWidth} ${croppedHeight}">` +
      `<rect x="${x}" y="${y}" width="${croppedWidth}" height="${croppedHeight}" fill="white"/>`
    );
  });
}

/**
 * Renders the plots without a browser: Vega-Lite → Vega → SVG (headless view), SVG → PNG with
 * resvg and an explicit font, since a headless machine may have no fontconfig default.
 */
export async function renderPlots(report: Report, options: PlotOptions = {}): Promise<{ plots: RenderedPlot[]; warnings: string[] }> {
  // Heavy modules, loaded only when plots are asked for.
  const [vega, vegaLite, resvg] = await Promise.all([import('vega'), import('vega-lite'), import('@resvg/resvg-js')]);
  // Vega measures text with this (the font the PNGs use) instead of its rough guess.
  (vega as unknown as { textMetrics: { width: (item: { fontSize?: number }, text: unknown) => number } }).textMetrics.width = (item, text) =>
    dejaVuSansWidth(typeof text === 'string' ? text.trim() : typeof text === 'number' ? String(text) : '', typeof item.fontSize === 'number' ? item.fontSize : 11);
  const warnings: string[] = [];
  const fontFile = options.fontFile ?? defaultFontFile;
  const haveFont = existsSync(fontFile);
  if (!haveFont) {
    warnings.push(`font ${fontFile} not found: PNG text falls back to system fonts and may be missing; install fonts-dejavu-core (scripts/setup does)`);
  }
  if (!report.latency.upload) warnings.push('no upload latencies in the logs: upload-latency plot not drawn');
  if (!report.latency.total) warnings.push('no total latencies in the logs: total-latency plot not drawn');
  const font: FontOptions = haveFont ? { fontFiles: [fontFile], loadSystemFonts: false, defaultFontFamily: fontFamily } : { loadSystemFonts: true };
  const plots: RenderedPlot[] = [];
  for (const { name, title, spec } of plotSpecs(report, options.compare ? { compare: options.compare } : {})) {
    let svg: string;
    // Vega-Lite's warnings (a channel it drops, say) are flaws of our specs: reported, not printed.
    const logger = specLogger((message) => warnings.push(`${name} plot: ${message}`));
    const view = new vega.View(vega.parse(vegaLite.compile(spec, { logger }).spec), { renderer: 'none' });
    try {
      svg = cropToContent(await view.toSVG(), resvg, font);
    } catch (error) {
      throw new RuntimeFailure(`cannot draw the ${name} plot: ${errorMessage(error)}; rerun with --no-plots to skip plots`, { cause: error });
    } finally {
      view.finalize();
    }
    let png: Buffer | undefined;
    try {
      const renderer = new resvg.Resvg(svg, { fitTo: { mode: 'zoom', value: 2 }, background: 'white', font });
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
