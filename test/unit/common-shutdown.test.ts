import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { onForcedExit, ownerPipeEnv, watchStopRequests, type StopCause, type StopRequests } from '../../src/common/shutdown.js';

/**
 * A graceful stop that nobody can force any more (the owner is gone) is bounded: after the limit the exit is forced, as a second signal would, after the forced-exit
 * hooks wrote what they can.
 */
let watched: StopRequests | undefined;
afterEach(() => watched?.dispose());

function watch(owned: boolean): { stdin: PassThrough; causes: StopCause[]; exits: number[]; stderr: () => string } {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const errors = new PassThrough();
  let stderrText = '';
  errors.on('data', (chunk: Buffer) => (stderrText += chunk.toString()));
  const causes: StopCause[] = [];
  const exits: number[] = [];
  watched = watchStopRequests({
    stderr: errors,
    exit: (code) => {
      exits.push(code);
      return undefined as never;
    },
    env: owned ? { [ownerPipeEnv]: '1' } : {},
    stdin,
    outputs: [stdout],
    onStop: (cause) => causes.push(cause),
    unattendedStopLimitMs: 100,
  });
  return { stdin, causes, exits, stderr: () => stderrText };
}

describe('watchStopRequests', () => {
  it('also bounds a stop a signal began once the owner goes (a dying owner signals its children first)', async () => {
    const { stdin, causes, exits } = watch(true);
    process.emit('SIGTERM', 'SIGTERM');
    expect(causes).toEqual(['SIGTERM']);
    stdin.end();
    await sleep(250);
    expect(causes).toEqual(['SIGTERM']);
    expect(exits).toEqual([143]);
  });

  it('stops gracefully when the owner is gone, and forces the exit if that stop does not end in time', async () => {
    const { stdin, causes, exits, stderr } = watch(true);
    let hookRan = false;
    const remove = onForcedExit(() => {
      hookRan = true;
    });
    stdin.end();
    await sleep(20);
    expect(causes).toEqual(['owner']);
    expect(watched?.signal.aborted).toBe(true);
    expect(exits).toEqual([]);
    await sleep(200);
    remove();
    expect(exits).toEqual([143]);
    expect(hookRan).toBe(true);
    expect(stderr()).toContain('the wavefier process that started this one is gone');
  });

  it('does not force a stop that ended: the bound is only for a stop still under way', async () => {
    const { stdin, exits } = watch(true);
    stdin.end();
    await sleep(20);
    watched?.dispose();
    watched = undefined;
    await sleep(200);
    expect(exits).toEqual([]);
  });
});
