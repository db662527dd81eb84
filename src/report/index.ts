/**
 * `wavefier report`: reconciles the upload and download JSON-lines logs of a rehearsal into
 * integrity counts, exact latency statistics, plots and an HTML page. Reads log files only: it
 * knows nothing of queues, Rucio or the uploader/downloader code.
 */
export { buildReport, defaultWindowMs, type BuildReportOptions } from './build-report.js';
export { defaultPlotsDir } from './log-discovery.js';
export { renderText, renderComparison, renderListing, reportNotes, verdictLine, type RenderTextOptions } from './render-text.js';
export { comparisonRows, type ComparisonRow } from './compare.js';
export { reportToJson, reportSchemaVersion, roundMs, type ReportJsonOptions } from './report-json.js';
export { reportJsonSchema, reportJsonSchemaDocument, type ReportJson } from './report-json-schema.js';
export { renderPlots, writePlots, type PlotOptions, type PlotResult, type RenderedPlot } from './plots.js';
export { plotSpecs, type PlotSpec } from './plot-specs.js';
export { headerFields, plotCaption, type HeaderField } from './report-header.js';
export { readObjectives, parseObjective, evaluateObjectives, objectiveOutcome, latencyObjectiveExitCode } from './slo.js';
export { renderHtml, writeHtml, htmlFileName } from './html.js';
export { reportExitCode, verdictErrorFor, verdictLabel, incompleteExitCode } from './verdict.js';
export { latencyStats, percentileOfSorted } from './latency-stats.js';
export { maxMalformedKept } from './log-reader.js';
export type * from './report-types.js';
