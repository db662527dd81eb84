import { formatDuration } from '../../src/common/duration.js';
import { table } from '../../src/common/output.js';
import { renderText } from '../../src/report/index.js';
import type { SoakResult } from './soak-result.js';

function clock(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(11, 23);
}

/** The soak for people: what was injected and when, next to the outcome and the verdict. */
export function renderSoak(result: SoakResult): string {
  const { verdict } = result;
  const c = verdict.counts;
  const faultRows = [
    ['time (UTC)', 'elapsed', 'progress', 'fault', 'outcome'],
    ...result.faults.map((f) => [
      clock(f.time),
      `+${(f.elapsedMs / 1000).toFixed(1)} s`,
      `${f.progress}/${result.count} (${((100 * f.progress) / result.count).toFixed(1)}%)`,
      f.description,
      `${f.injected ? '' : 'NOT INJECTED: '}${f.outcome}`,
    ]),
    ...result.notReached.map((step) => ['-', '-', `${(100 * step.at).toFixed(0)}% never reached`, step.kind, 'NOT INJECTED']),
  ];
  const k = result.counters;
  const checkRows = [
    ['', 'check', 'measured'],
    ...verdict.checks.map((check) => [check.ok ? 'ok' : 'FAIL', check.id, check.summary]),
  ];
  const failures = verdict.checks.filter((check) => !check.ok && check.examples.length > 0);
  return [
    `soak ${result.run}: ${result.count} chunks in ${formatDuration(result.wallMs)}`,
    '',
    'faults injected',
    table(faultRows),
    '',
    `lake counters: catalog ${k.catalog.errors} errors, ${k.catalog.delayed} delayed; storage ${k.storage.errors} errors, ` +
      `${k.storage.corruptedWrites} writes corrupted (rate for the whole run)`,
    `chunks: ${c.scheduled} scheduled, ${c.uploaded} uploaded, ${c.verified} verified, ${c.detectedCorrupt} detected corrupted ` +
      `(${c.corruptStored} stored corrupt), ${c.lost} lost; dataset lists ${c.datasetFiles} files`,
    `processes: ${Object.entries(result.processes).map(([label, exit]) => `${label} ${exit.signal ?? `exit ${exit.code ?? '?'}`}`).join(', ')}`,
    '',
    table(checkRows),
    ...failures.flatMap((check) => ['', `${check.id}:`, ...check.examples.map((example) => `  ${example}`)]),
    '',
    `verdict: ${verdict.ok ? 'PASS' : 'FAIL'}: ` +
      (verdict.ok
        ? 'every chunk accounted for, every corruption detected, no duplicates'
        : verdict.checks.filter((check) => !check.ok).map((check) => check.id).join(', ')),
    ...('missing' in result.report
      ? ['', result.report.missing]
      : [
          `(the report below exits ${result.reportExitCode}: it counts detected corruption as a failure of the data; the soak judges the detection)`,
          '',
          renderText(result.report),
        ]),
    '',
    `run directory  ${result.runDir}`,
    `soak summary   ${result.files.summary}`,
    `report         ${result.files.report}`,
  ].join('\n');
}
