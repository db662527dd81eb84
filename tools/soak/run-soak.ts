import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { errorMessage } from '../../src/common/errors.js';
import { formatDuration } from '../../src/common/duration.js';
import {
  downloadChunkEventSchema,
  downloadStatuses,
  uploadChunkEventSchema,
  uploadEventKinds,
  type DownloadChunkEvent,
  type UploadChunkEvent,
} from '../../src/common/log-records.js';
import type { Output } from '../../src/common/output.js';
import { startLake, type FaultCounters, type FaultSpec, type Lake } from '../../src/lake/index.js';
import { startPrivateRedis, type PrivateRedis } from '../../src/redis/index.js';
import { startWavefier, type ChildResult, type RunningChild } from '../../src/rehearse/index.js';
import { buildReport, renderListing, renderText, reportExitCode, reportToJson, type Report } from '../../src/report/index.js';
import { RucioClient, loadRucioConfig } from '../../src/rucio/index.js';
import { newRunId } from '../../src/common/run-id.js';
import { auditDataset } from './dataset-audit.js';
import { LogTail, isDownloadLog, isUploadLog } from './log-tail.js';
import { downloadWorkerProcesses } from './processes.js';
import { describeStep, type FaultStep } from './schedule.js';
import { soakVerdict, type SoakVerdict } from './verdict.js';

export interface SoakOptions {
  count: number;
  periodMs: number;
  /** Pacing: N times real time; ignored with asFastAsPossible. */
  rateFactor: number;
  asFastAsPossible: boolean;
  /** upload-worker processes alive at any time (the producer itself uploads nothing). */
  uploadWorkerProcesses: number;
  /** Concurrent uploads per upload-worker process. */
  uploadConcurrency: number;
  downloadWorkers: number;
  /** Probability that the lake stores a PUT corrupted, for the whole run. */
  corruptWriteRate: number;
  /** Re-reads of a corrupted chunk before the downloader gives up on it (stored corruption is permanent). */
  corruptionRetries: number;
  schedule: readonly FaultStep[];
  logDir: string;
  /** Stop everything after this long (default: 5 min + 40 ms per chunk). */
  deadlineMs?: number;
  /** Once the producer is done, stop when no chunk was uploaded, verified or found corrupted for this long (default 90 s). */
  stallMs?: number;
  signal: AbortSignal;
  output: Output;
}

export interface InjectedFault {
  step: FaultStep;
  description: string;
  /** Epoch ms when it fired, and ms since the soak started. */
  time: number;
  elapsedMs: number;
  /** Chunks uploaded (per the logs) when it fired. */
  progress: number;
  injected: boolean;
  outcome: string;
}

export interface SoakResult {
  run: string;
  runDir: string;
  dataset: string;
  count: number;
  wallMs: number;
  faults: InjectedFault[];
  /** Steps whose progress point was never reached (the run ended or stalled first). */
  notReached: FaultStep[];
  counters: FaultCounters;
  verdict: SoakVerdict;
  report: Report;
  /** The report's own exit status (3 whenever anything is corrupted, which injected corruption causes). */
  reportExitCode: number;
  exitCode: 0 | 3;
  processes: Record<string, { code: number | null; signal: string | null }>;
  files: { summary: string; report: string; reportJson: string };
}

interface TransientRule {
  side: 'catalog' | 'storage';
  rule: Record<string, unknown>;
  until: number;
  onExpire: () => void;
}

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
  const scope = 'wavefier';
  await mkdir(runDir, { recursive: true });
  const cleanups: (() => Promise<void>)[] = [];
  const stderrLog: WriteStream = createWriteStream(join(runDir, 'processes.stderr.log'));
  cleanups.push(() => new Promise((done) => stderrLog.end(done)));
  try {
    const lake: Lake = await startLake({ dir: join(runDir, 'lake'), quiet: true });
    cleanups.push(() => lake.close());
    const baseStorage = [{ method: 'PUT', corruptWriteRate: options.corruptWriteRate }];
    const transient: TransientRule[] = [];
    // set() replaces every rule with fresh copies, so read back what bursts have already consumed
    // before changing the list.
    const syncRules = (): void => {
      const current = lake.faults.rules();
      const bySide = { catalog: 0, storage: 0 };
      for (const entry of transient) {
        const live = current[entry.side][bySide[entry.side]++];
        if (live !== undefined) entry.rule = { ...live };
      }
    };
    const applyRules = (): void => {
      const spec: FaultSpec = {
        catalog: transient.filter((t) => t.side === 'catalog').map((t) => t.rule),
        storage: [...transient.filter((t) => t.side === 'storage').map((t) => t.rule), ...baseStorage],
      };
      lake.faults.set(spec);
    };
    applyRules();

    const redis: PrivateRedis = await startPrivateRedis({ persistence: 'aof' });
    cleanups.push(() => redis.stop());

    const env: NodeJS.ProcessEnv = { ...process.env, RUCIO_HOME: lake.settings.rucioHome };
    delete env.RUCIO_CONFIG;
    const onLine = (label: string, line: string): void => {
      stderrLog.write(`${new Date().toISOString()} ${label} | ${line}\n`);
      if (output.debug) output.info(`${label.padEnd(10)} | ${line}`);
    };

    const intervalMs = options.asFastAsPossible ? 0 : options.periodMs / options.rateFactor;
    const deadlineMs = options.deadlineMs ?? 300_000 + options.count * 40 + options.count * intervalMs;
    output.info(
      `soak ${run}: ${options.count} chunks, ` +
        (options.asFastAsPossible ? 'as fast as possible' : `one every ${formatDuration(intervalMs)} (rate factor ${options.rateFactor})`) +
        `, ${options.uploadWorkerProcesses} upload-worker processes x ${options.uploadConcurrency}, ${options.downloadWorkers} download workers, ` +
        `${(options.corruptWriteRate * 100).toFixed(2)}% of writes corrupted, ${options.schedule.length} faults scheduled; deadline ${formatDuration(deadlineMs)}`,
    );
    output.info(`run directory ${runDir}`);

    const stopping = { now: false };
    const processes: Record<string, { code: number | null; signal: string | null }> = {};
    const killedByUs = new Set<number>();
    const track = (label: string, child: RunningChild): RunningChild => {
      void child.done.then((result: ChildResult) => {
        const pid = child.process.pid ?? -1;
        processes[`${label} (pid ${pid})`] = { code: result.code, signal: result.signal };
        // A process that ends on its own before the run is over is news: say so when it happens.
        // Exit 3 is a downloader that saw corruption: expected here.
        if (result.code !== 0 && result.code !== 3 && !killedByUs.has(pid) && !stopping.now) {
          output.warn(`${label} (pid ${pid}) exited with ${result.signal ?? `code ${result.code ?? '?'}`} (its stderr is in ${join(runDir, 'processes.stderr.log')})`);
        }
      });
      return child;
    };
    let workerSerial = 0;
    const startUploadWorker = (): RunningChild => {
      const label = `uworker-${++workerSerial}`;
      return track(
        label,
        startWavefier(label, ['upload-worker', '--redis', redis.url, '--workers', String(options.uploadConcurrency), '--log-dir', logDir], env, onLine),
      );
    };
    const uploadWorkers: RunningChild[] = Array.from({ length: options.uploadWorkerProcesses }, startUploadWorker);
    const download = track(
      'download',
      startWavefier(
        'download',
        [
          'download', '--redis', redis.url, '--log-dir', logDir, '--scope', scope, '--dataset', dataset, '--run-name', run,
          '--workers', String(options.downloadWorkers), '--keep', 'none', '--until-closed',
          '--corruption-retries', String(options.corruptionRetries),
        ],
        env,
        onLine,
      ),
    );
    const upload = track(
      'upload',
      startWavefier(
        'upload',
        [
          'upload', '--redis', redis.url, '--log-dir', logDir, '--scope', scope, '--run-id', run, '--dataset', dataset,
          '--rse', lake.settings.defaultRse, '--source', 'synthetic', '--count', String(options.count), '--period', `${options.periodMs}ms`,
          ...(options.asFastAsPossible ? ['--as-fast-as-possible'] : ['--rate-factor', String(options.rateFactor)]),
          '--workers', '0', '--close-dataset',
        ],
        env,
        onLine,
      ),
    );

    const uploads: UploadChunkEvent[] = [];
    const downloads: DownloadChunkEvent[] = [];
    const uploadedNames = new Set<string>();
    let verifiedCount = 0;
    const tail = new LogTail(runDir, (name) => isUploadLog(name) || isDownloadLog(name), (record, file) => {
      if (isUploadLog(file) && uploadEventKinds.includes(record.event as never)) {
        const parsed = uploadChunkEventSchema.safeParse(record);
        if (parsed.success) {
          uploads.push(parsed.data);
          if (parsed.data.event === 'uploaded') uploadedNames.add(parsed.data.name);
        }
      } else if (isDownloadLog(file) && downloadStatuses.includes(record.event as never)) {
        const parsed = downloadChunkEventSchema.safeParse(record);
        if (parsed.success) {
          downloads.push(parsed.data);
          if (parsed.data.event === 'verified') verifiedCount++;
        }
      }
    });

    const faults: InjectedFault[] = [];
    const pending = [...options.schedule].sort((a, b) => a.at - b.at);
    const inject = async (step: FaultStep): Promise<InjectedFault> => {
      const time = Date.now();
      const record: InjectedFault = {
        step,
        description: describeStep(step),
        time,
        elapsedMs: time - started,
        progress: uploadedNames.size,
        injected: true,
        outcome: '',
      };
      try {
        switch (step.kind) {
          case 'kill-upload-worker': {
            const victim = uploadWorkers.find((w) => w.process.exitCode === null && w.process.signalCode === null);
            if (victim === undefined) {
              record.injected = false;
              record.outcome = 'no live upload-worker process';
              break;
            }
            killedByUs.add(victim.process.pid ?? -1);
            victim.process.kill('SIGKILL');
            await victim.done;
            uploadWorkers.splice(uploadWorkers.indexOf(victim), 1);
            const replacement = startUploadWorker();
            uploadWorkers.push(replacement);
            record.outcome = `killed pid ${victim.process.pid ?? '?'}, replacement pid ${replacement.process.pid ?? '?'}`;
            break;
          }
          case 'kill-download-worker': {
            const pid = download.process.pid;
            let victim: number | undefined;
            for (let tries = 0; tries < 50 && victim === undefined && pid !== undefined && download.process.exitCode === null; tries++) {
              victim = (await downloadWorkerProcesses(pid))[0]?.pid;
              if (victim === undefined) await sleep(100);
            }
            if (victim === undefined) {
              record.injected = false;
              record.outcome = 'no download worker process found';
              break;
            }
            process.kill(victim, 'SIGKILL');
            record.outcome = `killed pid ${victim}`;
            break;
          }
          case 'restart-redis': {
            const t = Date.now();
            await redis.restart();
            record.outcome = `down and back in ${Date.now() - t} ms`;
            break;
          }
          case 'storage-5xx':
          case 'catalog-5xx':
          case 'catalog-latency': {
            const side = step.kind === 'storage-5xx' ? 'storage' : 'catalog';
            const rule: Record<string, unknown> =
              step.kind === 'catalog-latency'
                ? { latencyMs: step.latencyMs }
                : { errorBurst: step.count, status: step.status, ...(step.kind === 'storage-5xx' && step.method !== undefined ? { method: step.method } : {}) };
            const before = lake.faults.counters()[side];
            const entry: TransientRule = {
              side,
              rule,
              until: Date.now() + step.windowMs,
              onExpire: () => {
                const after = lake.faults.counters()[side];
                record.outcome =
                  step.kind === 'catalog-latency'
                    ? `${after.delayed - before.delayed} requests delayed`
                    : `${after.errors - before.errors} ${side} requests answered ${step.status}`;
                if (step.kind !== 'catalog-latency' && after.errors === before.errors) record.injected = false;
              },
            };
            syncRules();
            transient.unshift(entry);
            applyRules();
            record.outcome = 'active';
            break;
          }
        }
      } catch (error) {
        record.injected = false;
        record.outcome = `failed: ${errorMessage(error)}`;
      }
      output.info(
        `fault at ${((100 * record.progress) / options.count).toFixed(1)}% (${record.progress}/${options.count}), +${formatDuration(record.elapsedMs)}: ` +
          `${record.description}${record.outcome === 'active' ? '' : ` → ${record.outcome}`}`,
      );
      return record;
    };
    const expireRules = (now: number): void => {
      if (transient.length === 0) return;
      syncRules();
      // A spent burst is dropped at once: the lake's first matching rule decides, so it would hide
      // the rules behind it (a latency window) for the rest of its window.
      const expired = transient.filter((t) => t.until <= now || t.rule.errorBurst === 0);
      if (expired.length === 0) return;
      for (const entry of expired) {
        entry.onExpire();
        transient.splice(transient.indexOf(entry), 1);
      }
      applyRules();
    };

    const stopAll = (reason: string): void => {
      if (stopping.now) return;
      stopping.now = true;
      output.warn(`stopping the soak: ${reason}`);
      for (const child of [upload, download, ...uploadWorkers]) child.stop(15_000);
    };
    const deadline = setTimeout(() => stopAll(`deadline of ${formatDuration(deadlineMs)} passed`), deadlineMs);
    const onAbort = (): void => stopAll('interrupted');
    options.signal.addEventListener('abort', onAbort, { once: true });

    // Set from callbacks: an object, so the loop re-reads them instead of narrowing them away.
    const exited = { upload: false, download: false };
    void upload.done.then(() => (exited.upload = true));
    void download.done.then(() => (exited.download = true));
    let uploadExitNoted = false;
    const stallMs = options.stallMs ?? 90_000;
    let lastProgressAt = Date.now();
    let lastProgress = -1;
    while (!exited.download) {
      await tail.poll();
      const now = Date.now();
      const progress = uploadedNames.size + downloads.length;
      if (progress !== lastProgress) {
        lastProgress = progress;
        lastProgressAt = now;
      } else if (exited.upload && now - lastProgressAt >= stallMs) {
        // A stuck downloader would otherwise hold the soak until the deadline: the verdict is the same.
        stopAll(`no chunk uploaded, verified or found corrupted for ${formatDuration(stallMs)} after the producer finished`);
      }
      expireRules(now);
      while (!stopping.now && pending[0] !== undefined && uploadedNames.size >= pending[0].at * options.count) {
        const step = pending.shift();
        if (step !== undefined) faults.push(await inject(step));
      }
      output.status(`soak ${run}: ${uploadedNames.size}/${options.count} uploaded, ${verifiedCount} verified, ${faults.length}/${options.schedule.length} faults injected`);
      if (exited.upload && !uploadExitNoted) {
        uploadExitNoted = true;
        const result = await upload.done;
        // The downloader stops by itself once the closed dataset is handled; if the producer could not
        // close it, give the downloader a bounded time and stop it.
        if (result.code !== 0) setTimeout(() => stopAll(`the upload producer exited with ${result.signal ?? `code ${result.code ?? '?'}`}`), 60_000).unref();
      }
      await sleep(200);
    }
    clearTimeout(deadline);
    options.signal.removeEventListener('abort', onAbort);
    stopping.now = true; // from here on, the soak ends its children itself
    if (!exited.upload) upload.stop(15_000);
    await upload.done;
    for (const worker of uploadWorkers) worker.stop(15_000);
    await Promise.all(uploadWorkers.map((w) => w.done));
    for (const entry of transient.splice(0)) entry.onExpire();
    lake.faults.clear();
    await tail.poll();
    const counters = lake.faults.counters();
    const wallMs = Date.now() - started;

    output.info('reading every stored object back from the lake to compare with the catalog');
    const client = new RucioClient(await loadRucioConfig({ env }));
    let audit;
    try {
      audit = await auditDataset(client, scope, dataset);
    } finally {
      await client.close();
    }

    const notInjected = faults.filter((f) => !f.injected).map((f) => `${f.description}: ${f.outcome}`);
    for (const step of pending) notInjected.push(`${describeStep(step)}: progress never reached ${(step.at * 100).toFixed(0)}%`);
    const verdict = soakVerdict({ scheduled: options.count, uploads, downloads, audit, corruptedWrites: counters.storage.corruptedWrites, notInjected });

    const report = await buildReport([runDir], { runId: run });
    const files = { summary: join(runDir, 'soak-summary.json'), report: join(runDir, 'report.txt'), reportJson: join(runDir, 'report.json') };
    const listing = renderListing(report, { all: false });
    await writeFile(files.report, `${renderText(report)}\n${listing === '' ? '' : `\n${listing}\n`}`);
    await writeFile(files.reportJson, `${JSON.stringify(reportToJson(report), null, 2)}\n`);
    const result: SoakResult = {
      run,
      runDir,
      dataset,
      count: options.count,
      wallMs,
      faults,
      notReached: pending,
      counters,
      verdict,
      report,
      reportExitCode: reportExitCode(report),
      exitCode: verdict.ok && !options.signal.aborted ? 0 : 3,
      processes,
      files,
    };
    await writeFile(files.summary, `${JSON.stringify(soakSummaryJson(result), null, 2)}\n`);
    return result;
  } finally {
    for (const step of cleanups.reverse()) {
      try {
        await step();
      } catch (error) {
        output.warn(`cleanup failed: ${errorMessage(error)}`);
      }
    }
  }
}

/** The soak's result as plain JSON (the summary file and `--json`). */
export function soakSummaryJson(result: SoakResult): Record<string, unknown> {
  const integrity = result.report.integrity;
  return {
    run: result.run,
    run_dir: result.runDir,
    dataset: result.dataset,
    count: result.count,
    wall_ms: result.wallMs,
    ok: result.verdict.ok,
    exit_code: result.exitCode,
    counts: result.verdict.counts,
    checks: result.verdict.checks,
    faults: result.faults.map((f) => ({
      kind: f.step.kind,
      at: f.step.at,
      description: f.description,
      time: new Date(f.time).toISOString(),
      elapsed_ms: f.elapsedMs,
      progress: f.progress,
      injected: f.injected,
      outcome: f.outcome,
    })),
    not_reached: result.notReached,
    lake_counters: result.counters,
    report: {
      exit_code: result.reportExitCode,
      verdict: result.report.verdict.summary,
      integrity,
    },
    processes: result.processes,
    files: result.files,
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}
