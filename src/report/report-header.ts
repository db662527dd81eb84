import { formatDuration } from '../common/duration.js';
import { formatCount, plural } from './format.js';
import type { LogSide, Report, SideInfo } from './report-types.js';
import { sampleRateHz, settingNumber, settingText, sourceName } from './run-settings.js';

/**
 * The run's settings as the report prints them on every page: the text summary, report.html, and
 * (shortened) every plot's subtitle, so that a pasted plot still says which run it shows. Built from
 * the run_started, ready and run_finished lines of both sides; what a log does not say is left out.
 */
export interface HeaderField {
  label: string;
  value: string;
}

/** Settings the header names in words; any other setting is listed as it is, under "more". */
const described = new Set([
  'source', 'source_name', 'sample_rate_hz', 'rate_factor', 'interval_ms', 'rse', 'workers', 'late_policy', 'gap_policy',
  'rucio_host', 'rucio_version', 'wavefier_version', 'poll_mode', 'poll_interval_ms', 'keep', 'already_verified', 'resumed_at',
  'from_rse', 'workers_ready', 'startup_ms', 'dq_policy', 'chunk_bytes', 'chunk_samples', 'source_rate_hz',
]);

/** "2026-12-06 14:11:06Z" (seconds; the date only when it differs from `sameDayAs`). */
export function shortTime(epochMs: number, sameDayAs?: number): string {
  const iso = new Date(epochMs).toISOString();
  const day = iso.slice(0, 10);
  const time = `${iso.slice(11, 19)}Z`;
  return sameDayAs !== undefined && new Date(sameDayAs).toISOString().slice(0, 10) === day ? time : `${day} ${time}`;
}

function span(from: number | undefined, to: number | undefined): string | undefined {
  if (from === undefined || to === undefined) return undefined;
  return `${shortTime(from)} to ${shortTime(to, from)} (${formatDuration(to - from)})`;
}

/** "one chunk every 100 ms (rate factor 10)", "as fast as possible", or undefined. */
function pace(settings: Record<string, unknown>): string | undefined {
  const factor = settingNumber(settings, 'rate_factor');
  const interval = settingNumber(settings, 'interval_ms');
  if (interval === 0) return 'as fast as possible';
  if (interval !== undefined) return `one chunk every ${formatDuration(interval)}${factor === undefined ? '' : ` (rate factor ${factor})`}`;
  return factor === undefined ? undefined : `rate factor ${factor}`;
}

function joined(parts: (string | undefined | false)[], separator = ', '): string {
  return parts.filter((part): part is string => typeof part === 'string' && part !== '').join(separator);
}

/** "vm" or "ego-1, ego-2"; a log written by several processes on one host names it once. */
function hostsOf(side: SideInfo): string | undefined {
  return side.hosts.length === 0 ? undefined : side.hosts.join(', ');
}

/** How long the side took to be ready: as its ready line measured it from the process's start, else from its run_started line. */
function startup(side: SideInfo): string | undefined {
  const waited = side.waitedMs === undefined || side.waitedMs < 1 ? '' : `, then waited ${formatDuration(side.waitedMs)} to start pacing`;
  if (side.startupMs !== undefined) return `ready ${formatDuration(side.startupMs)} after start${waited}`;
  if (side.startedAt === undefined || side.readyAt === undefined) return undefined;
  return `ready ${formatDuration(side.readyAt - side.startedAt)} after run_started`;
}

function versionOf(side: SideInfo): string | undefined {
  const version = settingText(side.settings, 'wavefier_version');
  return version === undefined ? undefined : `wavefier ${version}`;
}

/** Settings the header does not describe in words, as "key value". */
function moreSettings(side: SideInfo): string | undefined {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(side.settings)) {
    if (described.has(key) || value === undefined || value === null) continue;
    parts.push(`${key} ${typeof value === 'string' ? value : JSON.stringify(value)}`);
  }
  return parts.length === 0 ? undefined : parts.join(', ');
}

/** "a" when both sides give the same value, else "a (upload) / b (download)" (a side that gives none is left out). */
function perSide(up: string | undefined, down: string | undefined): string | undefined {
  if (up === down) return up;
  return joined([up && `${up} (upload)`, down && `${down} (download)`], ' / ');
}

/** The Rucio server(s) the sides talked to, with the version each one's `GET /ping` answered: one value when they agree. */
function rucioField(report: Report): string | undefined {
  const { upload, download } = report.run.sides;
  const host = perSide(settingText(upload.settings, 'rucio_host'), settingText(download.settings, 'rucio_host'));
  const version = perSide(settingText(upload.settings, 'rucio_version'), settingText(download.settings, 'rucio_version'));
  return joined([host, version && `Rucio server ${version}`]) || undefined;
}

function sourceField(report: Report): string | undefined {
  const settings = report.run.sides.upload.settings;
  const name = sourceName(settings);
  const rate = sampleRateHz(settings);
  const period = report.run.periodMs;
  const chunks = report.integrity.scheduledSource === 'run_started' ? plural(report.integrity.scheduled, 'chunk') : undefined;
  const bytes = settingNumber(settings, 'chunk_bytes');
  const size = period === undefined ? undefined : `of ${formatDuration(period)}${bytes === undefined ? '' : ` (${formatCount(Math.round(bytes / 100) / 10)} kB)`}`;
  const value = joined([name, rate !== undefined && `${formatCount(rate)} Hz`, joined([chunks, size], ' '), pace(settings)]);
  return value === '' ? undefined : value;
}

function sideField(side: SideInfo, which: LogSide): string | undefined {
  const { settings } = side;
  const workers = settingNumber(settings, 'workers');
  const common = [hostsOf(side) && `on ${hostsOf(side)}`, versionOf(side), workers !== undefined && plural(workers, 'worker')];
  const own =
    which === 'upload'
      ? [
          settingText(settings, 'rse') && `RSE ${settingText(settings, 'rse')}`,
          settingText(settings, 'late_policy') && `late chunks ${settingText(settings, 'late_policy')}`,
          settingText(settings, 'gap_policy') && `gaps ${settingText(settings, 'gap_policy')}`,
          settingText(settings, 'dq_policy') && `DQ failures ${settingText(settings, 'dq_policy')}`,
          settingNumber(settings, 'resumed_at') !== undefined && `resumed at seq ${settingNumber(settings, 'resumed_at')}`,
        ]
      : [
          settingText(settings, 'poll_mode') &&
            `poll ${settingText(settings, 'poll_mode')}${settingNumber(settings, 'poll_interval_ms') === undefined ? '' : ` every ${formatDuration(settingNumber(settings, 'poll_interval_ms') ?? 0)}`}`,
          settingText(settings, 'from_rse') && `from ${settingText(settings, 'from_rse')}`,
          settingText(settings, 'keep') && `keep ${settingText(settings, 'keep')}`,
        ];
  const value = joined([...common, ...own, side.writers > 1 && `${side.writers} writers`, startup(side), moreSettings(side)]);
  return value === '' ? undefined : value;
}

/** Every run setting the logs give, one field per line, for the text summary and the HTML page. */
export function headerFields(report: Report): HeaderField[] {
  const { run, files } = report;
  const { upload, download } = run.sides;
  const started = Math.min(upload.startedAt ?? Number.POSITIVE_INFINITY, download.startedAt ?? Number.POSITIVE_INFINITY);
  const finished = Math.max(upload.finishedAt ?? Number.NEGATIVE_INFINITY, download.finishedAt ?? Number.NEGATIVE_INFINITY);
  const uploads = files.filter((file) => file.side === 'upload').length;
  const lines = files.reduce((sum, file) => sum + file.lines, 0);
  const fields: [string, string | undefined][] = [
    ['run', joined([run.id, run.scope !== undefined && run.dataset !== undefined ? `dataset ${run.scope}:${run.dataset}` : run.dataset && `dataset ${run.dataset}`])],
    ['time', joined([Number.isFinite(started) && Number.isFinite(finished) && `run ${span(started, finished) ?? ''}`, span(run.firstAvail, run.lastAvail) && `t_avail ${span(run.firstAvail, run.lastAvail) ?? ''}`], '; ')],
    ['source', sourceField(report)],
    ['rucio', rucioField(report)],
    ['upload', sideField(upload, 'upload')],
    ['download', sideField(download, 'download')],
    [
      'logs',
      `${plural(uploads, 'upload log')}, ${plural(files.length - uploads, 'download log')}, ${plural(lines, 'line')}` +
        (report.malformedCount > 0 ? `, ${formatCount(report.malformedCount)} malformed` : ''),
    ],
  ];
  return fields.filter((field): field is [string, string] => field[1] !== undefined && field[1] !== '').map(([label, value]) => ({ label, value }));
}

/**
 * At most three short lines for a plot's subtitle: which run, what was sent where, who received
 * it. A plot pasted on a slide alone still says which run and which settings it shows.
 */
export function plotCaption(report: Report): string[] {
  const { run } = report;
  const { upload, download } = run.sides;
  const version = settingText(upload.settings, 'wavefier_version') ?? settingText(download.settings, 'wavefier_version');
  const when = run.firstAvail === undefined ? undefined : `${shortTime(run.firstAvail)}${run.lastAvail === undefined ? '' : `, ${formatDuration(run.lastAvail - run.firstAvail)} of t_avail`}`;
  const first = joined([`run ${run.id}`, when, version && `wavefier ${version}`]);
  const settings = upload.settings;
  const name = sourceName(settings);
  const rate = sampleRateHz(settings);
  const factor = settingNumber(settings, 'rate_factor');
  const interval = settingNumber(settings, 'interval_ms');
  const rse = settingText(settings, 'rse');
  const host = settingText(settings, 'rucio_host') ?? settingText(download.settings, 'rucio_host');
  const rucioVersion = settingText(settings, 'rucio_version') ?? settingText(download.settings, 'rucio_version');
  const second = joined(
    [
      joined([name, rate !== undefined && `${formatCount(rate)} Hz`], ' '),
      interval === 0 ? 'as fast as possible' : factor !== undefined && `rate factor ${factor}`,
      joined([rse && `into ${rse}`, host && `at ${host}`, rucioVersion && `(Rucio ${rucioVersion})`], ' '),
    ],
    ', ',
  );
  const side = (label: string, info: SideInfo, extra: string | undefined): string | undefined => {
    const workers = settingNumber(info.settings, 'workers');
    const value = joined([hostsOf(info), workers !== undefined && plural(workers, 'worker'), extra]);
    return value === '' ? undefined : `${label} ${value}`;
  };
  const pollMode = settingText(download.settings, 'poll_mode');
  const pollInterval = settingNumber(download.settings, 'poll_interval_ms');
  const poll = pollMode && `poll ${pollMode}${pollInterval === undefined ? '' : ` ${formatDuration(pollInterval)}`}`;
  const third = joined([side('upload:', upload, undefined), side('download:', download, poll || undefined)], '; ');
  return [first, second, third].filter((line) => line !== '');
}
