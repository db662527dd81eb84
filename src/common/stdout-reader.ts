import { spawn } from 'node:child_process';
import { fstatSync } from 'node:fs';

/**
 * Calls `onGone` when the process that reads our stdout pipe goes away (`wavefier lake serve --json |
 * head -1`). A pipe's writer learns that only when it writes (EPIPE), and a server that has said
 * everything writes nothing more; the kernel flags the pipe at once (POLLERR), but Node offers no way
 * to poll an fd for it. GNU tail does (coreutils >= 8.28: `tail -f` exits when its output pipe loses
 * its reader), so a `tail -f /dev/null` sharing our stdout watches it for us; `--pid` ends it with
 * us, even after a SIGKILL. Without GNU tail (other systems), nothing is watched: the process then
 * stops at the next write, as before.
 */
export function watchStdoutReader(onGone: () => void, stdoutFd = 1): { stop(): void } {
  let isPipe: boolean;
  try {
    isPipe = fstatSync(stdoutFd).isFIFO();
  } catch {
    isPipe = false;
  }
  if (!isPipe) return { stop: () => undefined };
  let stopped = false;
  const watcher = spawn('tail', ['-f', `--pid=${process.pid}`, '/dev/null'], { stdio: ['ignore', stdoutFd, 'ignore'] });
  watcher.on('error', () => undefined);
  watcher.on('exit', (code, signal) => {
    // tail raises SIGPIPE when it sees the reader go; a tail without the feature never exits by itself, and one without --pid fails with a status.
    if (!stopped && signal === 'SIGPIPE') onGone();
  });
  watcher.unref();
  return {
    stop() {
      stopped = true;
      if (watcher.exitCode === null && watcher.signalCode === null) watcher.kill('SIGTERM');
    },
  };
}
