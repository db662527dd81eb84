import { Option, type Command } from 'commander';
import { positiveInteger } from './parse.js';
import { rucioClientFromFlags, type RucioFlags } from './rucio-options.js';
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
  command.action(async (flags: UploadWorkerFlags & RucioFlags, cmd: Command) => {
    const ctx = contextFor(cmd, runtime);
    const { serveUploadWorkers } = await import('../uploader/index.js');
    const { client } = await rucioClientFromFlags(flags);
    try {
      const { uploaded, failed, attachRequests } = await serveUploadWorkers({
        redisUrl: flags.redis,
        rucio: client,
        workers: flags.workers,
        logDir: flags.logDir,
        signal: ctx.signal,
        output: ctx.output,
      });
      ctx.output.result({ uploaded, failed, attachRequests }, `upload-worker stopped: ${uploaded} uploaded, ${failed} failed, ${attachRequests} attach requests`);
    } finally {
      await client.close();
    }
  });
}
