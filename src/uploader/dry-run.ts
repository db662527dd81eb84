import { definedProps } from '../common/defined.js';
import { rucioNotFound, type RucioClient } from '../rucio/index.js';
import { chunkName, encodeChunk, openSource, type SourceSpec } from '../strain/index.js';
import { describeReplay } from './replay-description.js';
import type { ReplayDescription } from './replay.js';
import { fixSchedule, planRun, type RunRequest } from './run-plan.js';

/** What an upload would do, resolved against the Rucio server and the source without writing anything. */
export interface UploadDryRun {
  run: string;
  scope: string;
  dataset: string;
  /** Whether the dataset exists already (the upload attaches to it) and is open. */
  datasetExists: boolean;
  datasetOpen?: boolean;
  rse: string;
  protocol: { scheme: string; hostname: string; port: number; prefix: string };
  lfn2pfn: string;
  deterministic: boolean;
  /** Chunk 0: its DID name, where its bytes would be stored, and its size. */
  firstChunk: { name: string; pfn: string; bytes: number; gps: number };
  lastChunk?: { name: string; gps: number };
  schedule: { count?: number; periodMs: number; rateFactor: number; intervalMs: number; spanMs?: number; t0: number };
  replay: ReplayDescription;
  replicateTo?: string;
}

/**
 * `upload --dry-run`: plans the run as a real upload would (same defaults, same names), opens the
 * source and encodes chunk 0, asks the catalog for the RSE, its write protocol and chunk 0's PFN, and
 * whether the dataset exists; then stops. Nothing is written to the catalog, the storage or Redis.
 */
export async function planUploadDryRun(request: RunRequest & { rucio: RucioClient; replicateTo?: string; now?: () => number }): Promise<UploadDryRun> {
  const now = request.now ?? Date.now;
  const settings = fixSchedule(planRun(request, request.rucio.config.rucioHost, now), request.alignGps, now);
  const source = await openSource(settings.source as SourceSpec, { runId: settings.runId, gpsStart: settings.gpsStart, duration: settings.duration });
  try {
    const first = source.chunk(0);
    const name = chunkName(first, settings.tag);
    const bytes = encodeChunk(first, { tAvail: settings.t0 }).byteLength;
    const target = await request.rucio.storage.writeTarget(settings.rse, settings.scope, name);
    let datasetExists = true;
    let datasetOpen: boolean | undefined;
    try {
      datasetOpen = (await request.rucio.getDid(settings.scope, settings.dataset)).open;
    } catch (error) {
      if (!rucioNotFound(error)) throw error;
      datasetExists = false;
    }
    const last = settings.count === undefined ? undefined : source.chunk(settings.count - 1);
    return {
      run: settings.runId,
      scope: settings.scope,
      dataset: settings.dataset,
      datasetExists,
      ...definedProps({ datasetOpen, replicateTo: request.replicateTo }),
      rse: settings.rse,
      protocol: { scheme: target.protocol.scheme, hostname: target.protocol.hostname, port: target.protocol.port, prefix: target.protocol.prefix },
      lfn2pfn: target.rse.lfn2pfnAlgorithm,
      deterministic: target.rse.deterministic,
      firstChunk: { name, pfn: target.pfn, bytes, gps: first.gpsStart },
      ...(last === undefined ? {} : { lastChunk: { name: chunkName(last, settings.tag), gps: last.gpsStart } }),
      schedule: {
        ...definedProps({ count: settings.count, spanMs: settings.count === undefined ? undefined : settings.count * (settings.intervalMs > 0 ? settings.intervalMs : 0) }),
        periodMs: settings.periodMs,
        rateFactor: settings.rateFactor,
        intervalMs: settings.intervalMs,
        t0: settings.t0,
      },
      replay: describeReplay(source, settings),
    };
  } finally {
    source.close();
  }
}
