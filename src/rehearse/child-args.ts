import { join } from 'node:path';
import type { DqPolicy, GapPolicy } from '../strain/index.js';

/** The parts of a rehearsal's request that decide what its upload and download are asked to do. */
export interface ChildRequest {
  count: number;
  periodMs: number;
  rateFactor: number;
  asFastAsPossible: boolean;
  source: string;
  order: 'sequential' | 'random';
  seed: number;
  onGap: GapPolicy;
  onDq: DqPolicy;
  resample?: number;
  uploadWorkers: number;
  downloadWorkers: number;
  pollMode: 'phase-locked' | 'incremental' | 'full';
  pollIntervalMs?: number;
  /** Against the Rucio deployment of rucio.cfg instead of the embedded lake. */
  external?: boolean;
  keep: 'all' | 'none';
  scope: string;
  /** The dataset's and its rules' lifetime, seconds (upload's --lifetime). */
  lifetimeSeconds?: number;
  uploadArgs: string[];
  downloadArgs: string[];
}

/** What is known only once the rehearsal runs (or stands in for it while its flags are checked). */
export interface ChildPlace {
  runId: string;
  /** Absolute --log-dir; the run's files go to <logDir>/<runId>/. */
  logDir: string;
  redisUrl: string;
  rse: string;
}

/**
 * The command lines of a rehearsal's `wavefier upload` and `wavefier download`: one builder for the
 * processes it starts and for the check of their flags before anything starts (cli/rehearse.ts
 * parses both with the upload's and the download's own option definitions).
 */
export function childArgs(request: ChildRequest, place: ChildPlace): { upload: string[]; download: string[]; dataset: string } {
  const dataset = `wavefier-${place.runId}`;
  const common = ['--log-dir', place.logDir, '--scope', request.scope];
  const download = [
    'download',
    // 0 download workers: the download verifies in its own process and needs no Redis (with one, 0 would mean workers elsewhere).
    ...(request.downloadWorkers === 0 ? [] : ['--redis', place.redisUrl]),
    ...common,
    '--dataset', dataset,
    '--run-name', place.runId,
    '--workers', String(request.downloadWorkers),
    '--poll', request.pollMode,
    ...(request.pollIntervalMs === undefined ? [] : ['--poll-interval', `${request.pollIntervalMs}ms`]),
    // The embedded lake keeps update times to the millisecond: polls need not look back a whole second.
    ...(request.external === true ? [] : ['--catalog-resolution', '1ms']),
    '--keep', request.keep,
    ...(request.keep === 'all' ? ['--dest', join(place.logDir, place.runId, 'downloads')] : []),
    '--until-closed',
    // Told the upload's schedule once it is fixed (rehearse relays it): chunk 0 is polled for when it is due.
    '--schedule-from-owner',
    ...request.downloadArgs,
  ];
  const upload = [
    'upload',
    '--redis', place.redisUrl,
    ...common,
    '--run-id', place.runId,
    '--dataset', dataset,
    '--rse', place.rse,
    '--source', request.source,
    '--order', request.order,
    '--seed', String(request.seed),
    '--on-gap', request.onGap,
    '--on-dq', request.onDq,
    ...(request.resample === undefined ? [] : ['--resample', String(request.resample)]),
    '--count', String(request.count),
    '--period', `${request.periodMs}ms`,
    ...(request.asFastAsPossible ? ['--as-fast-as-possible'] : ['--rate-factor', String(request.rateFactor)]),
    '--workers', String(request.uploadWorkers),
    '--close-dataset',
    ...(request.lifetimeSeconds === undefined ? [] : ['--lifetime', `${request.lifetimeSeconds}s`]),
    // Pacing starts once the download is ready (rehearse tells it): chunk 0 is measured like any other.
    '--start-when-told',
    ...request.uploadArgs,
  ];
  return { upload, download, dataset };
}
