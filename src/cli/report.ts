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
}

export const registerReport: RegisterCommand = (program, runtime) => {
  program
    .command('report')
    .description(
      'Join the upload and download logs of a rehearsal, from any hosts and folders, by chunk identity: integrity ' +
        '(uploaded, verified, missing, corrupted...), latency statistics over the run and per time window, plots and ' +
        'an HTML page. Exits 3 when anything produced is missing, corrupted or failed, 4 when the run stopped early ' +
        'with nothing lost, 5 when there is no verdict (a side\'s logs missing, or nothing uploaded).',
    )
    .argument('<logdir...>', 'log directories (the --log-dir of upload and of download), run directories or log files, from every host')
    .addOption(new Option('--run <id>', 'the upload run id to report when the logs hold several (default: the most recent upload run)'))
    .addOption(new Option('--window <duration>', 'width of the latency windows, by t_avail').default('10m'))
    .addOption(new Option('--plots <dir>', 'where to write the plots and report.html (default: <run directory>/report)'))
    .addOption(new Option('--no-plots', 'do not draw plots nor write report.html'))
    .addOption(new Option('--list', 'list the chunks with a problem: - missing, * corrupted, ! failed upload, + not in the upload log'))
    .addOption(new Option('--combined', 'list every chunk, rclone check --combined style (= verified and ~ in flight at a stop as well)'))
    .addHelpText(
      'after',
      '\nLatency spread: "median -a +b": the middle 68 % of chunks lie between median - a (p16) and median + b (p84).\n' +
        'Exit status: 0 PASS (complete and clean); 3 FAIL (a chunk it produced is missing, corrupted or failed to\n' +
        'upload, interrupted or not); 4 INTERRUPTED or UNFINISHED (stopped early, or a log has no run_finished,\n' +
        'with nothing it produced lost: chunks never produced, or in flight at the stop, are not losses);\n' +
        '5 NO VERDICT (no upload log of the run, no download log of its dataset, or nothing uploaded).',
    )
    .action(async (dirs: string[], flags: ReportFlags, command: Command) => {
      // Loaded on use: the plotting stack (Vega, resvg) is heavy and other commands never need it.
      const {
        buildReport,
        defaultPlotsDir,
        defaultWindowMs,
        htmlFileName,
        renderListing,
        reportNotes,
        renderText,
        reportToJson,
        writeHtml,
        verdictErrorFor,
        writePlots,
      } = await import('../report/index.js');
      const { output, signal } = contextFor(command, runtime);
      const windowMs = flags.window === undefined ? defaultWindowMs : parseDuration(flags.window, '--window');
      if (windowMs <= 0) throw new UsageError(`invalid --window '${flags.window ?? ''}': give a positive duration, e.g. 10m`);
      if (flags.run?.trim() === '') throw new UsageError('--run needs an upload run id (the run id upload printed, as in its log lines)');

      const report = await buildReport(dirs, {
        ...definedProps({ runId: flags.run }),
        windowMs,
        signal,
        onProgress: (file, lines) => output.status(`reading ${file}: ${lines.toLocaleString('en-US')} lines`),
      });
      output.clearStatus();
      if (report.run.selectedBy === 'most-recent') {
        output.info(`reporting upload run ${report.run.id}, the most recent of ${report.run.candidates.length} (${report.run.candidates.join(', ')}); choose one with --run`);
      }
      for (const note of reportNotes(report)) output.warn(note);

      const written: string[] = [];
      if (flags.plots !== false) {
        // By default next to the selected run's logs, so that reports of several runs in one log
        // directory do not overwrite each other.
        const runFile = report.files[0]?.path;
        const dir = flags.plots !== undefined ? resolve(flags.plots) : runFile !== undefined ? join(dirname(runFile), 'report') : await defaultPlotsDir(dirs);
        const plots = await writePlots(report, dir);
        for (const warning of plots.warnings) output.warn(warning);
        written.push(...plots.files, await writeHtml(report, dir, plots.plots));
        output.info(`plots and ${htmlFileName} written to ${dir}`);
      }

      const listing = flags.combined === true ? 'all' : flags.list === true ? 'problems' : undefined;
      const text = [
        ...(listing === undefined ? [] : [renderListing(report, { all: listing === 'all' })].filter((block) => block !== '')),
        renderText(report),
      ].join('\n\n');
      output.result(
        reportToJson(report, { ...(listing === undefined ? {} : { listing }), ...(flags.plots === false ? {} : { plots: written }) }),
        text,
      );
      const failure = verdictErrorFor(report);
      if (failure) throw failure;
    });
};
