import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DatasetPoller, type PollMode } from '../../../src/downloader/index.js';
import { latencyStats } from '../../../src/report/index.js';
import { startLakeProcess } from '../../../src/rehearse/index.js';
import { RucioClient, loadRucioConfig, type FileDid } from '../../../src/rucio/index.js';
import type { Benchmark, BenchContext, Metric } from '../types.js';
import { quietLake, round } from './helpers.js';
import { CountingProxy } from './counting-proxy.js';

const sizes = [100, 1_000, 14_400] as const;
const modes: readonly PollMode[] = ['full', 'incremental'];
const scope = 'wavefier';
const rse = 'LAKE_S3';
/** As `wavefier download` runs: polls every 250 ms, 2 s overlap, full reconciliation every 60 s. */
const pollIntervalMs = 250;
const overlapMs = 2_000;
const reconcileEveryMs = 60_000;
/** Measured polls per mode and size; one new file arrives every 4th poll (a 1 Hz stream). */
const measuredPolls = 12;
const pollsPerNewFile = 4;
const fillBatch = 500;

interface PollCost {
  requests: number;
  responseBytes: number;
  requestBytes: number;
  wallMs: number;
}

let gps = 1_400_000_000;
function newFile(): FileDid {
  return {
    scope,
    name: `V-V1_BENCH-${gps++}-1.hdf5`,
    bytes: 45_376,
    adler32: randomBytes(4).toString('hex'),
    md5: randomBytes(16).toString('hex'),
  };
}

/**
 * Catalog cost of one poll of `DatasetPoller` (src/downloader), full and incremental, against
 * datasets that already hold 100, 1,000 and 14,400 files. The catalog entries are registered in
 * batches through src/rucio with no objects behind them (a poll only reads the catalog). The poller's
 * client talks to the lake (in its own process) through a counting TCP relay, so the bytes are what
 * crosses the wire, headers included.
 */
async function run(context: BenchContext): Promise<Metric[]> {
  const { workDir, log } = context;
  const lake = await startLakeProcess(join(workDir, 'lake'), { ...process.env }, quietLake(log));
  const proxy = await CountingProxy.start(lake.settings.rucioHost);
  const env = { RUCIO_HOME: lake.settings.rucioHome };
  const writer = new RucioClient(await loadRucioConfig({ env, flags: { tokenCacheDir: join(workDir, 'tokens-writer') } }));
  const reader = new RucioClient(await loadRucioConfig({ env, flags: { rucioHost: proxy.url, tokenCacheDir: join(workDir, 'tokens-reader') } }));
  const metrics: Metric[] = [];
  const steady = new Map<string, PollCost>();
  try {
    await reader.ping();
    for (const size of sizes) {
      const dataset = `bench-poll-${size}-${Date.now()}`;
      await writer.addDataset(scope, dataset);
      const fillStarted = performance.now();
      for (let done = 0; done < size; done += fillBatch) {
        const batch = Array.from({ length: Math.min(fillBatch, size - done) }, newFile);
        await writer.attachDids(scope, dataset, batch, { rse });
      }
      log(`${size} files registered in ${round((performance.now() - fillStarted) / 1000, 1)} s`);
      // Past the overlap window (and Rucio's one-second resolution), the fill is old news to an incremental poll.
      await sleep(overlapMs + 1_200);
      for (const mode of modes) {
        const poller = new DatasetPoller({ client: reader, scope, dataset, mode, reconcileEveryMs, overlapMs });
        const first = await measurePoll(poller, reader, proxy);
        const costs: PollCost[] = [];
        for (let index = 0; index < measuredPolls; index++) {
          const started = performance.now();
          if (index % pollsPerNewFile === 0) await writer.attachDids(scope, dataset, [newFile()], { rse });
          costs.push(await measurePoll(poller, reader, proxy));
          await sleep(Math.max(0, pollIntervalMs - (performance.now() - started)));
        }
        const mean = (pick: (cost: PollCost) => number): number => costs.reduce((sum, cost) => sum + pick(cost), 0) / costs.length;
        const cost: PollCost = {
          requests: mean((c) => c.requests),
          responseBytes: mean((c) => c.responseBytes),
          requestBytes: mean((c) => c.requestBytes),
          wallMs: latencyStats(costs.map((c) => c.wallMs))?.median ?? Number.NaN,
        };
        steady.set(`${mode}/${size}`, cost);
        const tag = `${mode}, ${size.toLocaleString('en')} files`;
        metrics.push(
          { name: `${tag}: catalog requests per poll`, value: round(cost.requests), unit: 'requests', ...(mode === 'incremental' ? { target: '== 1' } : {}) },
          { name: `${tag}: response bytes per poll`, value: Math.round(cost.responseBytes), unit: 'bytes' },
          { name: `${tag}: request bytes per poll`, value: Math.round(cost.requestBytes), unit: 'bytes' },
          { name: `${tag}: poll time, median`, value: round(cost.wallMs), unit: 'ms' },
        );
        if (mode === 'incremental') {
          // The first poll is the full reconciliation listing that recurs every 60 s.
          const amortised = cost.responseBytes * (1 - pollIntervalMs / reconcileEveryMs) + first.responseBytes * (pollIntervalMs / reconcileEveryMs);
          metrics.push(
            { name: `${tag}: reconciliation poll (first poll, then every 60 s), response bytes`, value: first.responseBytes, unit: 'bytes' },
            { name: `${tag}: response bytes per poll amortised over 60 s with the reconciliation`, value: Math.round(amortised), unit: 'bytes' },
          );
        }
      }
    }
    for (const mode of modes) {
      const small = steady.get(`${mode}/${sizes[0]}`);
      const large = steady.get(`${mode}/${sizes[sizes.length - 1]}`);
      if (small === undefined || large === undefined) continue;
      metrics.push({
        name: `${mode}: response bytes per poll at 14,400 files / at 100 files`,
        value: round(large.responseBytes / small.responseBytes),
        unit: 'ratio',
        ...(mode === 'incremental' ? { target: '<= 1.5', note: 'flat in dataset size (within 50 %)' } : { note: 'grows with the dataset: O(n) per poll' }),
      });
    }
  } finally {
    await reader.close();
    await writer.close();
    await proxy.close();
    await lake.close();
  }
  return metrics;
}

async function measurePoll(poller: DatasetPoller, client: RucioClient, proxy: CountingProxy): Promise<PollCost> {
  const requestsBefore = client.stats.requests;
  const receivedBefore = proxy.received;
  const sentBefore = proxy.sent;
  const started = performance.now();
  await poller.poll();
  const wallMs = performance.now() - started;
  return {
    requests: client.stats.requests - requestsBefore,
    responseBytes: proxy.received - receivedBefore,
    requestBytes: proxy.sent - sentBefore,
    wallMs,
  };
}

export const pollCost: Benchmark = {
  name: 'poll-cost',
  title: 'catalog cost of one download poll vs dataset size, full and incremental',
  description:
    'DatasetPoller (src/downloader) in both modes against datasets already holding 100, 1,000 and 14,400 files (catalog ' +
    'entries registered in batches of 500 through `attachDids` with `rse`, no objects). After the first poll, 12 polls 250 ms ' +
    'apart are measured while one new file arrives every 4th poll (a 1 Hz stream), with the settings of `wavefier download` ' +
    '(2 s overlap, full reconciliation every 60 s). Requests come from the RucioClient stats, bytes from a counting TCP relay ' +
    'between the poller\'s client and the lake (in its own process), headers included. The downloader\'s separate ' +
    '`GET /dids/{scope}/{dataset}` once a second (--until-closed) is not a poll and is not counted. Target: incremental ' +
    'cost per poll flat in dataset size.',
  run,
};
