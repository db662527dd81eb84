import { Command, Option } from 'commander';
import { terminalText } from '../common/terminal-text.js';
import { registerClean } from './clean.js';
import { registerDoctor } from './doctor.js';
import { registerDownload } from './download.js';
import { registerDownloadWorker } from './download-worker.js';
import { registerInspect } from './inspect.js';
import { registerLake } from './lake.js';
import { registerRehearse } from './rehearse.js';
import { registerReport } from './report.js';
import { addRucioOptions } from './rucio-options.js';
import type { RegisterCommand, Runtime } from './runtime.js';
import { packageVersion } from './version.js';
import { registerUpload } from './upload.js';
import { registerUploadWorker } from './upload-worker.js';

/** In the order `wavefier --help` lists them: the rehearsal first, then its parts, then tools. */
const subcommands: RegisterCommand[] = [
  registerRehearse,
  registerUpload,
  registerUploadWorker,
  registerDownload,
  registerDownloadWorker,
  registerReport,
  registerInspect,
  registerLake,
  registerDoctor,
  registerClean,
];

/** Every exit status, as README's "Exit status" table has them. */
const exitStatusHelp = `
Exit status:
  0        success
  1        runtime failure (a service unreachable, an upload that failed for good)
  2        usage or configuration error (bad flag, bad config file, unusable input file)
  3        integrity failure: chunks missing or corrupted
  4        report, rehearse: the run stopped early (interrupted, --deadline) and nothing it produced was lost
  5        report, rehearse: no verdict: the logs of one side are missing, or nothing was uploaded
  6        report, rehearse: every chunk intact, but a latency objective (--slo) was missed
  130/143  stopped by SIGINT/SIGTERM (after a graceful shutdown)`;

/** The subcommands that talk to Rucio: each gets the same connection flags, defined once in rucio-options.ts. */
const rucioCommands = new Set(['rehearse', 'upload', 'upload-worker', 'download', 'download-worker', 'doctor', 'clean']);

export function createProgram(runtime: Runtime): Command {
  const program = new Command('wavefier')
    .description(
      'Data-lake injection rehearsals for gravitational-wave strain: paced 1 s chunks into a Rucio data lake, ' +
        'a polling consumer that downloads and verifies them, and a report of what arrived and how fast.',
    )
    .version(packageVersion(), '-V, --version', 'print the version and exit')
    .addOption(new Option('--json', 'machine-readable output: one JSON object per line on stdout'))
    .addOption(new Option('--debug', 'show stack traces and debug diagnostics on stderr'))
    .addOption(new Option('-v, --verbose', 'more detail on stderr (rehearse: every line of its upload and download)').conflicts('quiet'))
    .addOption(new Option('-q, --quiet', 'no progress, no live view, no informational lines: only warnings, errors and the result'))
    .showSuggestionAfterError(true)
    .configureHelp({ showGlobalOptions: true })
    .addHelpText('after', exitStatusHelp);
  program.configureOutput({
    writeOut: (text) => (runtime.stdout ?? process.stdout).write(text),
    // Commander's errors quote what was typed (an unknown option, a bad value): printed safely.
    writeErr: (text) => (runtime.stderr ?? process.stderr).write(terminalText(text)),
  });
  // Set before the subcommands exist: they copy these settings when created. exitOverride makes
  // commander throw instead of exiting, so run() maps every outcome to an exit code in one place.
  program.exitOverride();
  for (const register of subcommands) register(program, runtime);
  // commander's "global options added" pattern: shared options added to the subcommands after they are defined.
  for (const command of program.commands) if (rucioCommands.has(command.name())) addRucioOptions(command);
  return program;
}
