import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { CleanupStack } from '../../src/common/cleanup.js';
import { formatDuration } from '../../src/common/duration.js';
import { newRunId } from '../../src/common/run-id.js';
import { startStack } from '../../src/rehearse/index.js';
import { FaultInjector, type InjectedFault } from './fault-injector.js';
import { SoakFleet } from './fleet.js';
import type { FaultStep } from './schedule.js';
import type { SoakOptions } from './soak-options.js';
import { SoakEvents } from './soak-events.js';
import { judgeSoak, type SoakResult } from './soak-result.js';

const scope = 'wavefier';
/** How often the soak reads the logs, checks its stop rules and the schedule. */
const tickMs = 200;

/**
 * The reliability run: an accelerated rehearsal on the embedded lake and a private Redis (AOF), with
 * upload-worker processes, a downloader, corruption on write all along and the faults of the
 * schedule injected as progress passes their points; then the ground truth from the lake and the
 * verdict. Everything it starts, it stops.
 */
export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const { output } = options;
  const started = Date.now();
  const run = newRunId(started);
  const logDir = resolve(options.logDir);
  const runDir = join(logDir, run);
  const dataset = `soak-${run}`;
  await mkdir(runDir, { recursive: true });
  const cleanup = new CleanupStack({ onError: (message) => output.warn(`cleanup: ${message}`) });
  const stderrLog = createWriteStream(join(runDir, 'processes.stderr.log'));
  cleanup.push('closing processes.stderr.log', () => new Promise<void>((done) => stderrLog.end(done)));
  const onLine = (label: string, line: string): void => {
    stderrLog.write(`${new Date().toISOString()} ${label} | ${line}\n`);
    if (output.debug) output.info(`${label.padEnd(10)} | ${line}`);
  };
  try {
    const stack = await startStack({ lakeDir: join(runDir, 'lake'), redisPersistence: 'aof', onLakeLine: (line) => onLine('lake', line), cleanup });
    const { lake, redis } = stack;
    const injector = new FaultInjector(lake, redis, options.corruptWriteRate);
    await injector.install();

    const intervalMs = options.asFastAsPossible ? 0 : options.periodMs / options.rateFactor;
    const deadlineMs = options.deadlineMs ?? 300_000 + options.count * 40 + options.count * intervalMs;
    output.info(
      `soak ${run}: ${options.count} chunks, ` +
        (options.asFastAsPossible ? 'as fast as possible' : `one every ${formatDuration(intervalMs)} (rate factor ${options.rateFactor})`) +
        `, ${options.uploadWorkerProcesses} upload-worker processes x ${options.uploadConcurrency}, ${options.downloadWorkers} download workers, ` +
        `${(options.corruptWriteRate * 100).toFixed(2)}% of writes corrupted, ${options.schedule.length} faults scheduled; deadline ${formatDuration(deadlineMs)}`,
    );
    output.info(`run directory ${runDir}`);

    const fleet = new SoakFleet({
      ...options,
      run,
      dataset,
      scope,
      logDir,
      runDir,
      redisUrl: redis.url,
      rse: lake.settings.defaultRse,
      env: stack.env,
      onLine,
    });
    cleanup.push('stopping the wavefier processes', () => fleet.stop());
    const events = new SoakEvents(runDir);

    const { faults, notReached } = await follow({ options, run, started, deadlineMs, fleet, injector, events });
    await fleet.windDown();
    const counters = await injector.finish();
    await events.poll();
    return await judgeSoak(
      {
        run,
        runDir,
        scope,
        dataset,
        count: options.count,
        wallMs: Date.now() - started,
        env: stack.env,
        events,
        faults,
        notReached,
        counters,
        processes: fleet.exits,
        interrupted: options.signal.aborted,
      },
      (line) => output.info(line),
    );
  } finally {
    await cleanup.run();
  }
}

interface FollowContext {
  options: SoakOptions;
  run: string;
  started: number;
  deadlineMs: number;
  fleet: SoakFleet;
  injector: FaultInjector;
  events: SoakEvents;
}

/**
 * The run, until the downloader exits: faults injected as the uploaded count passes their points,
 * everything stopped at the deadline, when interrupted, or when nothing progresses for `stallMs`
 * after the producer finished.
 */
async function follow(context: FollowContext): Promise<{ faults: InjectedFault[]; notReached: FaultStep[] }> {
  const { options, run, fleet, injector, events } = context;
  const { output, count } = options;
  const faults: InjectedFault[] = [];
  const pending = [...options.schedule].sort((a, b) => a.at - b.at);
  const deadline = setTimeout(() => fleet.stopAll(`deadline of ${formatDuration(context.deadlineMs)} passed`), context.deadlineMs);
  const onAbort = (): void => fleet.stopAll('interrupted');
  options.signal.addEventListener('abort', onAbort, { once: true });
  let uploadExitNoted = false;
  const stallMs = options.stallMs ?? 90_000;
  let lastProgressAt = Date.now();
  let lastProgress = -1;
  try {
    while (!fleet.downloadExited) {
      await events.poll();
      const now = Date.now();
      if (events.progress !== lastProgress) {
        lastProgress = events.progress;
        lastProgressAt = now;
      } else if (fleet.uploadExited && now - lastProgressAt >= stallMs) {
        // A stuck downloader would otherwise hold the soak until the deadline: the verdict is the same.
        fleet.stopAll(`no chunk uploaded, verified or found corrupted for ${formatDuration(stallMs)} after the producer finished`);
      }
      await injector.expire(now);
      while (!fleet.stopping && pending[0] !== undefined && events.uploadedCount >= pending[0].at * count) {
        const step = pending.shift();
        if (step === undefined) continue;
        const record = await injector.inject(step, fleet, { started: context.started, progress: events.uploadedCount });
        output.info(
          `fault at ${((100 * record.progress) / count).toFixed(1)}% (${record.progress}/${count}), +${formatDuration(record.elapsedMs)}: ` +
            `${record.description}${record.outcome === 'active' ? '' : ` → ${record.outcome}`}`,
        );
        faults.push(record);
      }
      output.status(`soak ${run}: ${events.uploadedCount}/${count} uploaded, ${events.verifiedCount} verified, ${faults.length}/${options.schedule.length} faults injected`);
      if (fleet.uploadExited && !uploadExitNoted) {
        uploadExitNoted = true;
        const result = await fleet.upload.done;
        // The downloader stops by itself once the closed dataset is handled; if the producer could not
        // close it, give the downloader a bounded time and stop it.
        if (result.code !== 0) setTimeout(() => fleet.stopAll(`the upload producer exited with ${result.signal ?? `code ${result.code ?? '?'}`}`), 60_000).unref();
      }
      await sleep(tickMs);
    }
  } finally {
    clearTimeout(deadline);
    options.signal.removeEventListener('abort', onAbort);
  }
  return { faults, notReached: pending };
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}
