import { loadavg } from 'node:os';
import { join } from 'node:path';
import { downloadLogFile } from '../../../src/common/log-records.js';
import { latencyStats } from '../../../src/report/index.js';
import { startRealRucio } from '../../peers/rucio.js';
import type { Benchmark, BenchContext, Metric } from '../types.js';
import { CountingProxy } from './counting-proxy.js';
import { latencyMetrics, readJsonLines, round, runWavefier } from './helpers.js';
import { edgeChunks, rehearsalReport, steadyCatalogRequests, steadyWindow } from './latency.js';

const count = 60;
const rse = 'LOCAL_POSIX';

/** The `counts` of the download's run_finished line: its own summary counters. */
async function downloadCounters(downloadLog: string): Promise<{ polls: number; pollRequests: number; verified: number }> {
  const finished = (await readJsonLines(downloadLog)).findLast((line) => line.event === 'run_finished');
  const counts = finished?.counts as { polls?: unknown; poll_requests?: unknown; verified?: unknown } | undefined;
  if (typeof counts?.polls !== 'number' || typeof counts.poll_requests !== 'number' || typeof counts.verified !== 'number') {
    throw new Error(`${downloadLog} has no run_finished line with polls, poll_requests and verified`);
  }
  return { polls: counts.polls, pollRequests: counts.poll_requests, verified: counts.verified };
}

/**
 * Issue 16's "the same design must hold against a real Rucio server: one poll request per chunk
 * period, no extra load". A paced 1 Hz rehearsal against a real Rucio 1.31.7 (`rehearse --external`:
 * `wavefier upload` and `wavefier download` as processes of their own), the download's catalog
 * traffic through a counting relay, so that its requests are counted on the wire as well as by the
 * download itself.
 */
async function runRucioRealLive(context: BenchContext): Promise<Metric[]> {
  const loadBefore = loadavg()[0] ?? Number.NaN;
  context.log('starting a real Rucio 1.31.7 server (peers kit)');
  const peer = await startRealRucio();
  const proxy = await CountingProxy.start(peer.info.host);
  try {
    const logDir = join(context.workDir, 'logs');
    context.log(`rehearse --external --rate-factor 1 --count ${count} against ${peer.info.host}, the download through ${proxy.url} (about ${count} s)`);
    const result = await runWavefier(
      'rehearse',
      [
        'rehearse', '--external', '--rse', rse, '--rate-factor', '1', '--count', String(count), '--log-dir', logDir, '--no-plots',
        '--download-args', `--host ${proxy.url} --auth-host ${proxy.url}`,
      ],
      { ...process.env, ...peer.env },
      context.log,
    );
    const loadAfter = loadavg()[0] ?? Number.NaN;
    const { runDir, report } = await rehearsalReport(result);
    const { integrity, latency, samples } = report;
    const downloadLog = join(runDir, downloadLogFile);
    const logged = await steadyCatalogRequests(downloadLog, samples.tAvail);
    const window = steadyWindow(samples.tAvail);
    const onTheWire = proxy.requests.filter((request) => request.at > window.from && request.at <= window.to);
    const counters = await downloadCounters(downloadLog);
    const kinds = new Map<string, number>();
    for (const request of onTheWire) {
      const kind = `${request.method} ${request.target.split('?', 1)[0]?.replace(/^\/(\w+)\/.*/, '/$1/...') ?? ''}`;
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
    }
    const steady = (values: Float64Array): ReturnType<typeof latencyStats> => latencyStats(values.subarray(edgeChunks));
    const after = `after the first ${edgeChunks} chunks`;
    const perChunk = (requests: number, chunks: number): number => (chunks > 0 ? round(requests / chunks, 2) : Number.NaN);
    return [
      { name: 'chunks verified', value: integrity.verified, unit: 'chunks', target: `== ${count}` },
      { name: 'chunks lost (missing, corrupted or failed uploads)', key: 'lost', value: integrity.missing + integrity.corrupted + integrity.failedUploads, unit: 'chunks', target: '== 0' },
      {
        name: 'catalog requests per chunk, steady state, counted on the wire',
        key: 'requests.wire',
        value: perChunk(onTheWire.length, window.chunks),
        unit: 'requests',
        target: '<= 1.5',
        note: `${onTheWire.length} requests of the download crossed the relay while chunks ${edgeChunks}..${count - edgeChunks - 1} were due: ${[...kinds].map(([kind, n]) => `${kind} ${n}`).join(', ')}`,
      },
      {
        name: 'catalog requests per chunk, steady state, as the download logs them',
        key: 'requests.logged',
        value: round(logged.perChunk, 2),
        unit: 'requests',
        target: '<= 1.5',
        note: `${logged.requests} requests in ${logged.polls} polls (its \`poll answered\` lines) in the same window`,
      },
      {
        name: 'catalog requests per chunk, whole run, from the download summary',
        key: 'requests.summary',
        value: perChunk(counters.pollRequests, counters.verified),
        unit: 'requests',
        note: `poll_requests ${counters.pollRequests} in ${counters.polls} polls for ${counters.verified} verified; the relay saw ${proxy.requests.length} requests in all (with authentication and the start-up questions)`,
      },
      ...latencyMetrics('detection delay', latency.detection, {}, true),
      ...latencyMetrics('total latency', latency.total, {}, true),
      ...latencyMetrics(`detection delay ${after}`, steady(samples.detection), {}, true),
      ...latencyMetrics(`total latency ${after}`, steady(samples.total), {}, true),
      ...latencyMetrics('upload latency', latency.upload, {}, true),
      { name: 'load average (1 min) before', key: 'load.before', value: round(loadBefore, 2), unit: '' },
      { name: 'load average (1 min) after', key: 'load.after', value: round(loadAfter, 2), unit: '' },
    ];
  } finally {
    await proxy.close();
    await peer.stop();
  }
}

export const rucioRealLive: Benchmark = {
  name: 'rucio-real-live',
  title: 'A paced 1 Hz stream against a real Rucio 1.31.7 server: catalog requests per chunk and latency',
  description:
    `\`wavefier rehearse --external --rse ${rse} --rate-factor 1 --count ${count} --no-plots\` (the built executable) against a real ` +
    'Rucio 1.31.7 server from the peers kit (../shared/peers/rucio, SQLite, posix RSE): `wavefier upload` paced at 1 Hz and ' +
    '`wavefier download` following the dataset with its default polling (`--poll phase-locked --poll-interval 250ms ' +
    "--catalog-resolution 1s`) and rehearse's 2 worker processes and --keep none, as two processes with a private redis-server. The " +
    "download talks to the server through a TCP relay that counts its requests on the wire (rehearse's --download-args " +
    '--host/--auth-host); the upload talks to it directly. Catalog requests per chunk in steady state: the relayed requests, ' +
    `and the download's own \`poll answered\` lines, between the due times of chunk ${edgeChunks} and of the ` +
    `${edgeChunks + 1}th chunk from the end (as in latency-1hz); and over the whole run from the download's summary counters. ` +
    "Issue 16: one poll request per chunk period, no extra load (the 1 Hz target on the embedded lake: <= 1.5). Latencies from the run's logs " +
    'through the report module, over all chunks and without the first ones.',
  run: runRucioRealLive,
};
