import type { CleanupStack } from '../common/cleanup.js';
import { definedProps } from '../common/defined.js';
import { startPrivateRedis, type PrivateRedis } from '../redis/index.js';
import { startLakeProcess, type LakeProcess } from './lake-process.js';

export interface RedisChoice {
  /** An existing Redis to use as it is; a private redis-server is started when absent. */
  url?: string;
  /** Persistence of the private redis-server: 'aof' for a run that restarts it mid-run. */
  persistence?: 'none' | 'aof';
}

export interface StackOptions {
  /** Where the embedded lake keeps its state. */
  lakeDir: string;
  /** An existing Redis to use as it is; a private redis-server is started when absent. */
  redisUrl?: string;
  /** Persistence of the private redis-server: 'aof' for a run that restarts it mid-run. */
  redisPersistence?: 'none' | 'aof';
  /** Every line the lake process prints on stderr. */
  onLakeLine: (line: string) => void;
  /** More `lake serve` flags, e.g. `--davs-rse URL`. */
  lakeArgs?: readonly string[];
  /** The caller's shutdown steps: the stack adds its own, so that it stops in reverse order, even after a failure. */
  cleanup: CleanupStack;
  /** The environment to start from (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** A stop request while the lake starts ends the wait for it (the start then throws the signal's reason). */
  signal?: AbortSignal;
}

export interface Stack {
  lake: LakeProcess;
  redisUrl: string;
  /** The private redis-server, when the stack started one. */
  redis: PrivateRedis | undefined;
  /** For the wavefier processes that use this lake: RUCIO_HOME points at it, RUCIO_CONFIG is removed. */
  env: NodeJS.ProcessEnv;
}

/** The Redis of a run: the one given, or a private redis-server stopped by the cleanup stack. */
export async function startRedis(choice: RedisChoice, cleanup: CleanupStack): Promise<{ url: string; redis: PrivateRedis | undefined }> {
  if (choice.url !== undefined) return { url: choice.url, redis: undefined };
  const redis = await startPrivateRedis({ persistence: choice.persistence ?? 'none' });
  cleanup.push('stopping redis-server', () => redis.stop());
  return { url: redis.url, redis };
}

/**
 * The local stack of a rehearsal, a benchmark or the soak: the embedded lake in a process of its own
 * (`wavefier lake serve`) and a Redis for the queues.
 */
export async function startStack(options: StackOptions & { redisUrl?: undefined }): Promise<Stack & { redis: PrivateRedis }>;
export async function startStack(options: StackOptions): Promise<Stack>;
export async function startStack(options: StackOptions): Promise<Stack> {
  const base = options.env ?? process.env;
  const lake = await startLakeProcess(options.lakeDir, base, options.onLakeLine, options.lakeArgs, options.signal);
  options.cleanup.push('stopping the embedded lake', () => lake.close());
  const { url, redis } = await startRedis(definedProps({ url: options.redisUrl, persistence: options.redisPersistence }), options.cleanup);
  const env: NodeJS.ProcessEnv = { ...base, RUCIO_HOME: lake.settings.rucioHome };
  delete env.RUCIO_CONFIG;
  return { lake, redisUrl: url, redis, env };
}
