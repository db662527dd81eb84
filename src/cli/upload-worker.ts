import { hostname } from 'node:os';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import type { EventLog } from '../common/event-log.js';
import { redactUrl } from '../common/redact.js';
import { positiveInteger } from './parse.js';
import { addRucioOptions, rucioClientFromFlags } from './rucio-options.js';
import { contextFor, type Runtime } from './runtime.js';

interface UploadWorkerFlags {
  redis: string;
  workers: number;
  logDir: string;
}

export function registerUploadWorker(program: Command, runtime: Runtime): void {
  const command = program
    .command('upload-worker')
    .description('extra upload workers on another host: serve every active run on a shared Redis that uploads to this Rucio server')
    .addOption(new Option('--redis <url>', 'the Redis the uploading process uses').makeOptionMandatory(true))
    .addOption(new Option('--workers <n>', 'concurrent uploads per run in this process').argParser(positiveInteger('--workers')).default(4))
    .addOption(new Option('--log-dir <dir>', 'retries are noted in <dir>/<run id>/upload-<host>-<pid>.jsonl; outcomes go to the producer log').default('rehearsals'));
  addRucioOptions(command).action(async (flags: UploadWorkerFlags & Parameters<typeof rucioClientFromFlags>[0], cmd: Command) => {
    const ctx = contextFor(cmd, runtime);
    const [{ connectRedis }, { startWorkerPool }, { openEventLog }] = await Promise.all([
      import('../redis/index.js'),
      import('../uploader/index.js'),
      import('../common/event-log.js'),
    ]);
    const redis = await connectRedis(flags.redis);
    const { client } = await rucioClientFromFlags(flags);
    const logs = new Map<string, EventLog>();
    const logFor = (run: string): EventLog => {
      let log = logs.get(run);
      if (!log) {
        log = openEventLog(join(flags.logDir, run, `upload-${hostname()}-${process.pid}.jsonl`));
        logs.set(run, log);
      }
      return log;
    };
    let uploaded = 0;
    let failed = 0;
    const pool = startWorkerPool({
      redisUrl: flags.redis,
      redis,
      rucio: client,
      concurrency: flags.workers,
      logFor,
      onOutcome: (event) => (event.event === 'uploaded' ? uploaded++ : failed++),
      onError: (error) => ctx.output.warn(`upload worker: ${error.message}`),
      onRun: (run, action, why) => ctx.output.info(`run ${run}: ${action}${why === undefined ? '' : ` (${why})`}`),
    });
    ctx.output.info(`upload-worker ${hostname()}:${process.pid} following the active upload runs on ${redactUrl(flags.redis)} with ${flags.workers} workers per run`);
    await new Promise<void>((resolve) => {
      if (ctx.signal.aborted) resolve();
      ctx.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    await pool.close();
    for (const log of logs.values()) log.close();
    redis.disconnect();
    await client.close();
    ctx.output.result({ uploaded, failed }, `upload-worker stopped: ${uploaded} uploaded, ${failed} failed`);
  });
}
