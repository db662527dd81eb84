import { definedProps } from '../../src/common/defined.js';
import { ExitCode, InterruptedError, errorMessage, isWavefierError } from '../../src/common/errors.js';
import { Output } from '../../src/common/output.js';
import { renderSoak } from './render.js';
import { runSoak } from './run-soak.js';
import { soakSummaryJson } from './soak-result.js';
import { parseSoakArgs, soakUsage } from './soak-options.js';

/** `npm run soak`: parse, run, print, exit 0 (verdict holds), 3 (it does not), 2 (usage), 1 (failure). */
async function main(argv: readonly string[]): Promise<number> {
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => {
    if (controller.signal.aborted) process.exit(signal === 'SIGINT' ? ExitCode.sigint : ExitCode.sigterm);
    process.stderr.write(`\nsoak: ${signal} received, stopping the run (send it again to exit at once)\n`);
    controller.abort(new InterruptedError(signal));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const args = parseSoakArgs(argv);
    if (args.help) {
      process.stdout.write(`${soakUsage}\n`);
      return ExitCode.ok;
    }
    const output = new Output({ json: args.json, debug: args.debug });
    const result = await runSoak({
      count: args.count,
      periodMs: 1000,
      rateFactor: args.rateFactor ?? 1,
      asFastAsPossible: args.asFastAsPossible,
      uploadWorkerProcesses: args.uploadWorkers,
      uploadConcurrency: args.uploadConcurrency,
      downloadWorkers: args.downloadWorkers,
      corruptWriteRate: args.corruptRate,
      corruptionRetries: args.corruptionRetries,
      schedule: args.schedule,
      logDir: args.logDir,
      ...definedProps({ deadlineMs: args.deadlineMs }),
      signal: controller.signal,
      output,
    });
    output.result(soakSummaryJson(result), renderSoak(result));
    if (controller.signal.aborted) return ExitCode.sigint;
    if (result.exitCode !== 0) output.error(`soak ${result.run} failed its verdict: see the checks above and ${result.files.summary}`);
    return result.exitCode;
  } catch (error) {
    process.stderr.write(`soak: error: ${errorMessage(error)}\n`);
    return isWavefierError(error) ? error.exitCode : ExitCode.runtime;
  }
}

process.exitCode = await main(process.argv.slice(2));
