import { dirname, join, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { definedProps } from '../common/defined.js';
import { parseDuration } from '../common/duration.js';
import { UsageError } from '../common/errors.js';
import { contextFor, type RegisterCommand } from './runtime.js';

interface ReportFlags {
  run?: string;
  window?: string;
  plots?: string | false;
  list?: boolean;
  combined?: boolean;
  slo: string[];
  compare?: string;
  compareRun?: string;
}

/** What --slo accepts, for the help of report and rehearse. */
export const sloHelp =
  'latency objective(s) the run must meet, e.g. "total.p50<=300ms,total.p99<=2s,upload.p99<=1s" (repeatable, or @file ' +
  'with one or more a line); metrics upload, detection, total, pacing; statistics p50..p99.9, median, mean, max';

export const sloExitHelp = '6 FAIL on latency (every chunk intact, but an --slo objective missed).';

export const registerReport: RegisterCommand = (program, runtime) => {
  program
    .command('report')
    .description(
      'Join the upload and download logs of a rehearsal, from any hosts and folders, by chunk identity: integrity ' +
        '(uploaded, verified, missing, corrupted...), latency statistics over the run and per time window, latency ' +
        'objectives, plots and an HTML page. Exits 3 when anything produced is missing, corrupted or failed, 4 when the ' +
        'run stopped early with nothing lost, 5 when there is no verdict (a side\'s logs missing, or nothing uploaded), ' +
        '6 when a latency objective (--slo) was missed.',
    )
    .argument('<logdir...>', 'log directories (the --log-dir of upload and of download), run directories or log files, from every host')
    .addOption(new Option('--run <id>', 'the upload run id to report when the logs hold several (default: the most recent upload run)'))
    .addOption(new Option('--window <duration>', 'width of the latency windows, by t_avail').default('10m'))
    .addOption(new Option('--slo <objectives>', sloHelp).argParser((value: string, previous: string[]) => [...previous, value]).default([]))
    .addOption(new Option('--compare <logdir>', 'another run to compare with: its run directory or log directory (a side-by-side table and overlaid CDFs)'))
    .addOption(new Option('--compare-run <id>', 'the upload run id of --compare when its logs hold several (default: the most recent)'))
    .addOption(new Option('--plots <dir>', 'where to write the plots and report.html (default: <run directory>/report; with --json only when given)'))
    .addOption(new Option('--no-plots', 'do not draw plots nor write report.html'))
    .addOption(new Option('--list', 'list the chunks with a problem: - missing, * corrupted, ! failed upload, + not in the upload log'))
    .addOption(new Option('--combined', 'list every chunk, rclone check --combined style (= verified and ~ in flight at a stop as well)'))
    .addHelpText(
      'after',
      '\nLatency spread: "median -a +b": the middle 68 % of chunks lie between median - a (p16) and median + b (p84).\n' +
        'Exit status: 0 PASS (complete and clean, every objective met); 3 FAIL (a chunk it produced is missing, corrupted\n' +
        'or failed to upload, interrupted or not); 4 INTERRUPTED or UNFINISHED (stopped early, or a log has no run_finished,\n' +
        'with nothing it produced lost: chunks never produced, or in flight at the stop, are not losses);\n' +
        `5 NO VERDICT (no upload log of the run, no download log of its dataset, or nothing uploaded); ${sloExitHelp}\n` +
        '--json prints one object of the documented schema (docs/report.schema.json, schema_version 1).',
    )
    .action(async (dirs: string[], flags: ReportFlags, command: Command) => {
      // Loaded on use: the plotting stack (Vega, resvg) is heavy and other commands never need it.
      const {
        buildReport,
        defaultPlotsDir,
        defaultWindowMs,
        htmlFileName,
        readObjectives,
        renderListing,
        reportNotes,
        renderText,
        reportToJson,
        writeHtml,
        verdictErrorFor,
        writePlots,
      } = await import('../report/index.js');
      const { output, signal, json } = contextFor(command, runtime);
      const windowMs = flags.window === undefined ? defaultWindowMs : parseDuration(flags.window, '--window');
      if (windowMs <= 0) throw new UsageError(`invalid --window '${flags.window ?? ''}': give a positive duration, e.g. 10m`);
      if (flags.run?.trim() === '') throw new UsageError('--run needs an upload run id (the run id upload printed, as in its log lines)');
      if (flags.compareRun !== undefined && flags.compare === undefined) throw new UsageError('--compare-run names a run of --compare: give --compare <logdir> too');
      const objectives = await readObjectives(flags.slo);

      const report = await buildReport(dirs, {
        ...definedProps({ runId: flags.run }),
        windowMs,
        objectives,
        signal,
        onProgress: (file, lines) => output.status(`reading ${file}: ${lines.toLocaleString('en-US')} lines`),
      });
      output.clearStatus();
      if (report.run.selectedBy === 'most-recent') {
        output.info(`reporting upload run ${report.run.id}, the most recent of ${report.run.candidates.length} (${report.run.candidates.join(', ')}); choose one with --run`);
      }
      for (const note of reportNotes(report)) output.warn(note);
      // The other run is judged against the same objectives, so that the table compares like with like.
      const other =
        flags.compare === undefined
          ? undefined
          : await buildReport([flags.compare], { ...definedProps({ runId: flags.compareRun }), windowMs, objectives, signal });
      if (other?.run.selectedBy === 'most-recent') {
        output.info(`comparing with upload run ${other.run.id}, the most recent of ${other.run.candidates.length} under ${flags.compare ?? ''}; choose one with --compare-run`);
      }

      const written: string[] = [];
      // With --json, plots are a side effect a script asks for: only with --plots DIR.
      const wantPlots = flags.plots !== false && (!json || flags.plots !== undefined);
      if (wantPlots) {
        // By default next to the selected run's logs, so that reports of several runs in one log
        // directory do not overwrite each other.
        const runFile = report.files[0]?.path;
        const dir = typeof flags.plots === 'string' ? resolve(flags.plots) : runFile !== undefined ? join(dirname(runFile), 'report') : await defaultPlotsDir(dirs);
        const plots = await writePlots(report, dir, definedProps({ compare: other }));
        for (const warning of plots.warnings) output.warn(warning);
        written.push(...plots.files, await writeHtml(report, dir, plots.plots, other));
        output.info(`plots and ${htmlFileName} written to ${dir}`);
      }

      const listing: 'all' | 'problems' | undefined = flags.combined === true ? 'all' : flags.list === true ? 'problems' : undefined;
      const text = [
        ...(listing === undefined ? [] : [renderListing(report, { all: listing === 'all' })].filter((block) => block !== '')),
        renderText(report, definedProps({ compare: other })),
      ].join('\n\n');
      output.result(reportToJson(report, { ...definedProps({ listing, compare: other }), ...(wantPlots ? { plots: written } : {}) }), text);
      const failure = verdictErrorFor(report);
      if (failure) throw failure;
    });
};
