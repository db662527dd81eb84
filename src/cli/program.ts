import { Command, Option } from 'commander';
import { terminalText } from '../common/terminal-text.js';
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
];

/** The subcommands that talk to Rucio: each gets the same connection flags, defined once in rucio-options.ts. */
const rucioCommands = new Set(['rehearse', 'upload', 'upload-worker', 'download', 'download-worker', 'doctor']);

export function createProgram(runtime: Runtime): Command {
  const program = new Command('wavefier')
    .description(
      'Data-lake injection rehearsals for gravitational-wave strain: paced 1 s chunks into a Rucio data lake, ' +
        'a polling consumer that downloads and verifies them, and a report of what arrived and how fast.',
    )
    .version(packageVersion(), '-V, --version', 'print the version and exit')
    .addOption(new Option('--json', 'machine-readable output: one JSON object per line on stdout'))
    .addOption(new Option('--debug', 'show stack traces and debug diagnostics on stderr'))
    .showSuggestionAfterError(true)
    .configureHelp({ showGlobalOptions: true })
    .addHelpText(
      'after',
      '\nExit status: 0 ok, 1 runtime failure, 2 usage or configuration error, 3 integrity failure\n' +
        '(missing or corrupted chunks), 130/143 after SIGINT/SIGTERM.',
    );
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
