import { spawn, type ChildProcess } from 'node:child_process';

/**
 * The reaper's whole program. It reads its orders from a pipe that only the owner holds: `pid N`
 * names the process to stop (0: none), `after N` a process that uses it and must finish first,
 * `release` says the owner cleaned up itself. When the pipe closes without `release`, the owner is
 * gone, however it died (SIGKILL included: the kernel closes its end of the pipe): the reaper waits
 * (up to 10 s) for the `after` processes, which stop by themselves when their owner is gone, then
 * stops the process (SIGTERM, SIGKILL after 2 s) and removes the directory. A shell, not node: it
 * must cost nothing and start in a few milliseconds.
 */
const reaperScript = `
running() {
  kill -0 "$1" 2>/dev/null || return 1
  # An exited process waits as a zombie until init collects it: it runs no more.
  case "$(cat "/proc/$1/stat" 2>/dev/null)" in *") Z "*) return 1 ;; esac
  return 0
}
pid=0
after=""
while read -r order value; do
  case "$order" in
    pid) pid="$value" ;;
    after) after="$after $value" ;;
    release) exit 0 ;;
  esac
done
waited=0
for user in $after; do
  while running "$user" && [ "$waited" -lt 100 ]; do sleep 0.1; waited=$((waited + 1)); done
done
if [ "$pid" -gt 0 ] 2>/dev/null; then
  kill -TERM "$pid" 2>/dev/null
  tries=0
  while running "$pid" && [ "$tries" -lt 20 ]; do sleep 0.1; tries=$((tries + 1)); done
  if running "$pid"; then kill -KILL "$pid" 2>/dev/null; fi
fi
if [ -n "$1" ]; then rm -rf -- "$1"; fi
`;

export interface Reaper {
  readonly pid: number | undefined;
  /** The process to stop if the owner dies (a restarted server has a new pid); undefined: none. */
  watch(pid: number | undefined): void;
  /** A process that uses the watched one: if the owner dies, it gets time to stop first. */
  after(pid: number): void;
  /** The owner stopped the process and removed the directory itself: the reaper exits doing nothing. */
  release(): void;
}

/**
 * A watchdog for what this process starts outside itself (a private redis-server and its temporary
 * directory): whatever way this process ends, even by SIGKILL, the reaper stops the process and
 * removes the directory, so that nothing of a run outlives its owner. It runs in a process group of
 * its own (a Ctrl-C at the terminal is for its owner, not for it) and never keeps the owner alive.
 */
export function startReaper(options: { dir?: string } = {}): Reaper {
  const child: ChildProcess = spawn('/bin/sh', ['-c', reaperScript, 'wavefier-reaper', options.dir ?? ''], {
    stdio: ['pipe', 'ignore', 'ignore'],
    detached: true,
  });
  const stdin = child.stdin;
  // A reaper that could not start (or died) must not crash its owner through an EPIPE.
  child.on('error', () => undefined);
  stdin?.on('error', () => undefined);
  child.unref();
  (stdin as unknown as { unref?: () => void } | null)?.unref?.();
  let released = false;
  const send = (line: string): void => {
    if (!released && stdin?.writable === true) stdin.write(`${line}\n`);
  };
  return {
    pid: child.pid,
    watch(pid) {
      send(`pid ${pid ?? 0}`);
    },
    after(pid) {
      send(`after ${pid}`);
    },
    release() {
      send('release');
      released = true;
      stdin?.end();
    },
  };
}
