import { Option, type Command } from 'commander';
import { whenOwnerSendsLine } from '../common/shutdown.js';
import { positiveInteger } from './parse.js';
import { rucioClientFromFlags, type RucioFlags } from './rucio-options.js';
import { contextFor, type Runtime } from './runtime.js';

interface DownloadWorkerFlags {
  redis: string;
  workers: number;
  logDir: string;
  queue?: string;
}

/**
 * `wavefier download` starts its worker processes with this command (one queue, its own Rucio
 * settings in the environment, stopping when stdin closes, i.e. when the download process is gone);
 * on other hosts a user starts it by hand to add workers to every download run on a shared Redis.
 */
export function registerDownloadWorker(program: Command, runtime: Runtime): void {
  const command = program
    .command('download-worker')
    .description('extra download workers on another host: fetch and verify chunks for every active download run on a shared Redis that polls this Rucio server')
    .addOption(new Option('--redis <url>', 'the Redis the downloading process uses').makeOptionMandatory(true))
    .addOption(new Option('--workers <n>', 'chunks fetched at the same time per download run in this process').argParser(positiveInteger('--workers')).default(2))
    .addOption(new Option('--log-dir <dir>', 'retries are noted in <dir>/<run>/download-worker-<host>-<pid>.jsonl; outcomes go to the download log').default('rehearsals'))
    .addOption(new Option('--queue <name>', 'serve only this download queue').hideHelp());
  command.action(async (flags: DownloadWorkerFlags & RucioFlags, cmd: Command) => {
    const ctx = contextFor(cmd, runtime);
    // Only the worker's own modules: a worker process starts with every download run and after every crash.
    const [{ serveDownloadWorkers }, { downloadWorkerRucioEnv }, { RucioClient, rucioConfigFrom }] = await Promise.all([
      import('../downloader/download-worker-service.js'),
      import('../downloader/worker-pool.js'),
      import('../rucio/index.js'),
    ]);
    const inherited = (runtime.env ?? process.env)[downloadWorkerRucioEnv];
    const client =
      inherited === undefined
        ? (await rucioClientFromFlags(flags)).client
        : new RucioClient(rucioConfigFrom(JSON.parse(inherited) as Parameters<typeof rucioConfigFrom>[0]));
    const stop = new AbortController();
    const onAbort = (): void => stop.abort(ctx.signal.reason);
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    try {
      const counts = await serveDownloadWorkers({
        redisUrl: flags.redis,
        rucio: client,
        concurrency: flags.workers,
        ...(flags.queue === undefined ? {} : { queue: flags.queue }),
        logDir: flags.logDir,
        signal: stop.signal,
        output: ctx.output,
        onReady: (queues) => ctx.output.result({ event: 'ready', pid: process.pid, queues }, `download-worker ready (${queues} download runs)`),
        // Started by `wavefier download`: told the shape of the chunks to come on stdin, when it is.
        ...(inherited === undefined ? {} : { announcedShape: whenOwnerSendsLine(stop.signal) }),
        onShapePrepared: (prepared) => ctx.output.result({ event: 'chunk_shape_prepared', pid: process.pid, prepared }, `download-worker ${prepared ? 'prepared for' : 'could not prepare for'} the announced chunk shape`),
      });
      ctx.output.result(
        { event: 'stopped', ...counts },
        `download-worker stopped: ${counts.verified} verified, ${counts.corrupted} corrupted, ${counts.failedAttempts} failed attempts`,
      );
    } finally {
      ctx.signal.removeEventListener('abort', onAbort);
      await client.close();
    }
  });
}
