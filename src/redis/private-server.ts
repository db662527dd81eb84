import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UnavailableError } from '../common/errors.js';
import { startReaper } from '../common/reaper.js';

export interface PrivateRedisOptions {
  /** Data directory; a temporary one (removed on stop) when absent. */
  dir?: string;
  /** 'aof' keeps queued work across a restart of the server (the soak test restarts it mid-run). */
  persistence?: 'none' | 'aof';
  port?: number;
  /** Path or name of the executable; `redis-server` on PATH by default. */
  executable?: string;
}

export interface PrivateRedis {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  /** The server's process id (a restart changes it); undefined once stopped. */
  readonly pid: number | undefined;
  /**
   * Names a process that uses this server (an upload or download the owner started): if the owner
   * dies without stop(), the server is stopped only once that process has finished its own stop.
   */
  stopAfter(pid: number | undefined): void;
  /** Stops the server (SIGTERM, then SIGKILL after a grace period; SIGKILL at once without persistence). Idempotent. */
  stop(): Promise<void>;
  /** Stops and starts the server again on the same port and data directory. */
  restart(): Promise<void>;
  /** Kills the server without letting it save, as a crash would. */
  kill(): Promise<void>;
}

const installHint =
  'install it (Debian/Ubuntu: `sudo apt-get install redis-server`, macOS: `brew install redis`; or run scripts/setup) or pass --redis URL to use an existing Redis';

/**
 * Starts a redis-server for the lifetime of one run, on a free loopback port, with settings BullMQ
 * needs (`maxmemory-policy noeviction`). The process is ours: stop() ends it. It runs in a process
 * group of its own, so that a Ctrl-C at the terminal reaches only its owner, which stops it last
 * (after the queues that use it); and a reaper stops it and removes its temporary directory if the
 * owner dies without stop(), even by SIGKILL.
 */
export async function startPrivateRedis(options: PrivateRedisOptions = {}): Promise<PrivateRedis> {
  const executable = options.executable ?? 'redis-server';
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'wavefier-redis-')));
  const port = options.port ?? (await freePort());
  let child: ChildProcess | undefined;
  const reaper = startReaper(ownDir ? { dir } : {});

  const launch = async (): Promise<void> => {
    const args = [
      '--port', String(port),
      '--bind', '127.0.0.1',
      '--dir', dir,
      '--save', '',
      '--appendonly', options.persistence === 'aof' ? 'yes' : 'no',
      '--appendfsync', 'everysec',
      '--maxmemory-policy', 'noeviction',
      '--protected-mode', 'yes',
      '--loglevel', 'notice',
      '--logfile', '',
    ];
    child = await spawnAndWaitReady(executable, args, port);
    reaper.watch(child.pid);
  };

  const terminate = async (signal: NodeJS.Signals): Promise<void> => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
    running.kill(signal);
    const timer = setTimeout(() => running.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
    reaper.watch(undefined);
  };

  try {
    await launch();
  } catch (error) {
    reaper.release();
    if (ownDir) await rm(dir, { recursive: true, force: true });
    throw error;
  }
  // If this process ends without stop() (a second Ctrl-C exits at once), the server must not outlive it.
  const killOnExit = (): void => {
    child?.kill('SIGKILL');
  };
  process.on('exit', killOnExit);
  let stopped: Promise<void> | undefined;
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    get pid() {
      return child?.pid;
    },
    stopAfter(pid) {
      if (pid !== undefined) reaper.after(pid);
    },
    stop() {
      stopped ??= (async () => {
        // A server that keeps nothing has nothing to save: SIGTERM would only wait for its next
        // timer tick (up to 100 ms) to shut down, on every run's way out.
        await terminate(options.persistence === 'aof' ? 'SIGTERM' : 'SIGKILL');
        process.off('exit', killOnExit);
        if (ownDir) await rm(dir, { recursive: true, force: true });
        reaper.release();
      })();
      return stopped;
    },
    async restart() {
      await terminate('SIGTERM');
      await launch();
    },
    async kill() {
      await terminate('SIGKILL');
    },
  };
}

async function spawnAndWaitReady(executable: string, args: string[], port: number): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    let output = '';
    let settled = false;
    const child = spawn(executable, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const fail = (error: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(error);
    };
    const onData = (data: Buffer): void => {
      // Only the start-up output matters (readiness or the reason it failed); later lines are dropped.
      if (settled) return;
      output += data.toString('utf8');
      if (/Ready to accept connections/i.test(output)) {
        settled = true;
        clearTimeout(timer);
        resolve(child);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') {
        fail(new UnavailableError(`no Redis given and '${executable}' is not installed: ${installHint}`, { retryable: false }));
      } else {
        fail(new UnavailableError(`could not start ${executable}: ${error.message}`, { cause: error }));
      }
    });
    child.on('exit', (code, signal) => {
      if (!settled) {
        const last = output.trim().split('\n').slice(-2).join(' ');
        fail(new UnavailableError(`${executable} on port ${port} exited at start (${signal ?? `code ${code}`}): ${last}`));
      }
    });
    const timer = setTimeout(() => fail(new UnavailableError(`${executable} did not become ready on port ${port} within 10 s`)), 10_000);
  });
}

/** A currently free TCP port on 127.0.0.1 (the OS picks it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
