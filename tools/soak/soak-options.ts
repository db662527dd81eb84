import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { prettifyError, z } from 'zod';
import { UsageError, errorMessage } from '../../src/common/errors.js';
import { parseDuration } from '../../src/common/duration.js';
import type { Output } from '../../src/common/output.js';
import { defaultSchedule, scheduleSchema, type FaultStep } from './schedule.js';

/** What a soak run is given (runSoak); its processes take their share of it (FleetSettings). */
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

export const soakUsage = `usage: npm run soak -- [options]   (or: node build/tools/soak/run.js [options])

The reliability run: an accelerated rehearsal on the embedded lake with faults injected mid-run
(kill -9 of upload and download workers, Redis restarts, storage and catalog 5xx bursts, catalog
latency, corruption of stored objects), then the verdict: every chunk accounted for, every
corruption detected, no duplicates. Exit 0 when the verdict holds, 3 when it does not.

  --count N                 chunks to inject (default 14400, a 4 h rehearsal)
  --rate-factor N           pace N times faster than real time
  --as-fast-as-possible     no pacing (the default)
  --upload-workers N        upload-worker processes (default 2)
  --upload-concurrency N    uploads in flight per upload-worker process (default 4)
  --download-workers N      download worker processes (default 2)
  --corrupt-rate P          fraction of stored objects corrupted on write (default 0.01)
  --corruption-retries N    re-reads of a corrupted chunk before the downloader gives up (default 1: the
                            soak corrupts writes, and a stored object never changes once it is
                            AVAILABLE, not even when a killed upload worker's job is retried)
  --schedule JSON|@FILE     fault schedule: [{"at":0.1,"kind":"kill-upload-worker"}, ...]
  --log-dir DIR             the run goes to DIR/<run id>/ (default rehearsals)
  --deadline DURATION       stop everything after this long (default 5 min + 40 ms per chunk)
  --json                    print the summary as one JSON line
  --debug                   forward the children's stderr
  -h, --help                this text`;

const optionsSchema = z
  .object({
    count: z.coerce.number().int().min(10).max(10_000_000),
    rateFactor: z.coerce.number().positive().max(1_000_000).optional(),
    asFastAsPossible: z.boolean(),
    uploadWorkers: z.coerce.number().int().min(1).max(64),
    uploadConcurrency: z.coerce.number().int().min(1).max(256),
    downloadWorkers: z.coerce.number().int().min(1).max(64),
    corruptRate: z.coerce.number().min(0).max(0.5),
    corruptionRetries: z.coerce.number().int().min(0).max(10),
    logDir: z.string().min(1),
    deadlineMs: z.number().positive().optional(),
    json: z.boolean(),
    debug: z.boolean(),
  })
  .strict();

export type ParsedSoakArgs = z.infer<typeof optionsSchema> & { schedule: FaultStep[]; help: boolean };

/** Parses and validates the soak's command line; every problem is a UsageError naming the flag. */
export function parseSoakArgs(argv: readonly string[]): ParsedSoakArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        count: { type: 'string', default: '14400' },
        'rate-factor': { type: 'string' },
        'as-fast-as-possible': { type: 'boolean', default: false },
        'upload-workers': { type: 'string', default: '2' },
        'upload-concurrency': { type: 'string', default: '4' },
        'download-workers': { type: 'string', default: '2' },
        'corrupt-rate': { type: 'string', default: '0.01' },
        'corruption-retries': { type: 'string', default: '1' },
        schedule: { type: 'string' },
        'log-dir': { type: 'string', default: 'rehearsals' },
        deadline: { type: 'string' },
        json: { type: 'boolean', default: false },
        debug: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (error) {
    throw new UsageError(`${errorMessage(error)} (see --help)`);
  }
  if (values['rate-factor'] !== undefined && values['as-fast-as-possible']) {
    throw new UsageError('--rate-factor and --as-fast-as-possible exclude each other: pick one');
  }
  const parsed = optionsSchema.safeParse({
    count: values.count,
    rateFactor: values['rate-factor'],
    asFastAsPossible: values['rate-factor'] === undefined,
    uploadWorkers: values['upload-workers'],
    uploadConcurrency: values['upload-concurrency'],
    downloadWorkers: values['download-workers'],
    corruptRate: values['corrupt-rate'],
    corruptionRetries: values['corruption-retries'],
    logDir: values['log-dir'],
    deadlineMs: values.deadline === undefined ? undefined : parseDuration(values.deadline, '--deadline'),
    json: values.json,
    debug: values.debug,
  });
  if (!parsed.success) throw new UsageError(`invalid soak options: ${prettifyError(parsed.error).replace(/\n/g, '; ')}`);
  return { ...parsed.data, schedule: parseSchedule(values.schedule), help: values.help };
}

function parseSchedule(value: string | undefined): FaultStep[] {
  if (value === undefined) return [...defaultSchedule];
  let text = value;
  if (value.startsWith('@')) {
    try {
      text = readFileSync(value.slice(1), 'utf8');
    } catch (error) {
      throw new UsageError(`cannot read --schedule file ${value.slice(1)}: ${errorMessage(error)}`);
    }
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`--schedule is not valid JSON: ${errorMessage(error)}`);
  }
  const parsed = scheduleSchema.safeParse(json);
  if (!parsed.success) throw new UsageError(`invalid --schedule: ${prettifyError(parsed.error).replace(/\n/g, '; ')}`);
  return parsed.data;
}
