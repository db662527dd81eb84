import { join } from 'node:path';
import { startWavefier, type ChildResult, type RunningChild } from '../../src/rehearse/index.js';
import { downloadWorkerProcesses } from './processes.js';
import type { SoakOptions } from './soak-options.js';

/** How a process of the soak ended. */
export interface ProcessExit {
  code: number | null;
  signal: string | null;
}

/** What a kill did, for the injected-fault table. */
export interface KillOutcome {
  injected: boolean;
  outcome: string;
}

/** The run's own settings for its processes, beside what the soak options say of them. */
export type FleetSettings = Pick<
  SoakOptions,
  'count' | 'periodMs' | 'rateFactor' | 'asFastAsPossible' | 'uploadWorkerProcesses' | 'uploadConcurrency' | 'downloadWorkers' | 'corruptionRetries' | 'logDir' | 'output'
> & {
  run: string;
  dataset: string;
  scope: string;
  runDir: string;
  redisUrl: string;
  rse: string;
  env: NodeJS.ProcessEnv;
  /** Every line a child prints on stderr, with its label. */
  onLine: (label: string, line: string) => void;
};

/** Grace of a SIGTERM before SIGKILL when the soak stops a process. */
const stopGraceMs = 15_000;

/**
 * The wavefier processes of a soak, as they would run at their sites: the upload producer (which
 * uploads nothing itself), its upload-worker processes and the downloader. It knows which processes it
 * killed on purpose and when the soak is stopping, so that only an exit nobody asked for is news.
 */
export class SoakFleet {
  /** How each process ended, by label and pid. */
  readonly exits: Record<string, ProcessExit> = {};
  readonly upload: RunningChild;
  readonly download: RunningChild;
  private readonly uploadWorkers: RunningChild[] = [];
  private readonly killedByUs = new Set<number>();
  private readonly exited = { upload: false, download: false };
  private workerSerial = 0;
  private stoppingAll = false;

  constructor(private readonly settings: FleetSettings) {
    const s = settings;
    for (let index = 0; index < s.uploadWorkerProcesses; index++) this.uploadWorkers.push(this.startUploadWorker());
    this.download = this.track(
      'download',
      startWavefier(
        'download',
        [
          'download', '--redis', s.redisUrl, '--log-dir', s.logDir, '--scope', s.scope, '--dataset', s.dataset, '--run-name', s.run,
          '--workers', String(s.downloadWorkers), '--keep', 'none', '--until-closed',
          '--corruption-retries', String(s.corruptionRetries),
        ],
        s.env,
        s.onLine,
      ),
    );
    this.upload = this.track(
      'upload',
      startWavefier(
        'upload',
        [
          'upload', '--redis', s.redisUrl, '--log-dir', s.logDir, '--scope', s.scope, '--run-id', s.run, '--dataset', s.dataset,
          '--rse', s.rse, '--source', 'synthetic', '--count', String(s.count), '--period', `${s.periodMs}ms`,
          ...(s.asFastAsPossible ? ['--as-fast-as-possible'] : ['--rate-factor', String(s.rateFactor)]),
          '--workers', '0', '--close-dataset',
        ],
        s.env,
        s.onLine,
      ),
    );
    void this.upload.done.then(() => (this.exited.upload = true));
    void this.download.done.then(() => (this.exited.download = true));
  }

  get uploadExited(): boolean {
    return this.exited.upload;
  }

  get downloadExited(): boolean {
    return this.exited.download;
  }

  /** True once the soak began to stop its processes: their exits from then on are expected. */
  get stopping(): boolean {
    return this.stoppingAll;
  }

  /** SIGKILL of the oldest live upload-worker process, and a replacement for it. */
  async killUploadWorker(): Promise<KillOutcome> {
    const victim = this.uploadWorkers.find((worker) => worker.process.exitCode === null && worker.process.signalCode === null);
    if (victim === undefined) return { injected: false, outcome: 'no live upload-worker process' };
    this.killedByUs.add(victim.process.pid ?? -1);
    victim.process.kill('SIGKILL');
    await victim.done;
    this.uploadWorkers.splice(this.uploadWorkers.indexOf(victim), 1);
    const replacement = this.startUploadWorker();
    this.uploadWorkers.push(replacement);
    return { injected: true, outcome: `killed pid ${victim.process.pid ?? '?'}, replacement pid ${replacement.process.pid ?? '?'}` };
  }

  /** SIGKILL of one of the downloader's `wavefier download-worker` processes (looked for during up to 5 s). */
  async killDownloadWorker(): Promise<KillOutcome> {
    const pid = this.download.process.pid;
    let victim: number | undefined;
    for (let tries = 0; tries < 50 && victim === undefined && pid !== undefined && this.download.process.exitCode === null; tries++) {
      victim = (await downloadWorkerProcesses(pid))[0]?.pid;
      if (victim === undefined) await sleep(100);
    }
    if (victim === undefined) return { injected: false, outcome: 'no download worker process found' };
    process.kill(victim, 'SIGKILL');
    return { injected: true, outcome: `killed pid ${victim}` };
  }

  /** Stops every process (once), saying why. */
  stopAll(reason: string): void {
    if (this.stoppingAll) return;
    this.stoppingAll = true;
    this.settings.output.warn(`stopping the soak: ${reason}`);
    for (const child of this.children()) void child.stop(stopGraceMs);
  }

  /**
   * The end of the run, once the downloader is done: the producer (if it is still running), then the
   * upload workers, which have nothing left to do.
   */
  async windDown(): Promise<void> {
    this.stoppingAll = true;
    if (!this.exited.upload) void this.upload.stop(stopGraceMs);
    await this.upload.done;
    for (const worker of this.uploadWorkers) void worker.stop(stopGraceMs);
    await Promise.all(this.uploadWorkers.map((worker) => worker.done));
  }

  /** Stops whatever still runs and waits for it: the cleanup step for a soak that failed mid-run. */
  async stop(): Promise<void> {
    this.stoppingAll = true;
    const children = this.children();
    for (const child of children) void child.stop(stopGraceMs);
    await Promise.all(children.map((child) => child.done));
  }

  private children(): RunningChild[] {
    return [this.upload, this.download, ...this.uploadWorkers];
  }

  private startUploadWorker(): RunningChild {
    const { settings: s } = this;
    const label = `uworker-${++this.workerSerial}`;
    return this.track(
      label,
      startWavefier(label, ['upload-worker', '--redis', s.redisUrl, '--workers', String(s.uploadConcurrency), '--log-dir', s.logDir], s.env, s.onLine),
    );
  }

  private track(label: string, child: RunningChild): RunningChild {
    void child.done.then((result: ChildResult) => {
      const pid = child.process.pid ?? -1;
      this.exits[`${label} (pid ${pid})`] = { code: result.code, signal: result.signal };
      // A process that ends on its own before the run is over is news: say so when it happens.
      // Exit 3 is a downloader that saw corruption: expected here.
      if (result.code !== 0 && result.code !== 3 && !this.killedByUs.has(pid) && !this.stoppingAll) {
        this.settings.output.warn(
          `${label} (pid ${pid}) exited with ${result.signal ?? `code ${result.code ?? '?'}`} (its stderr is in ${join(this.settings.runDir, 'processes.stderr.log')})`,
        );
      }
    });
    return child;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}
