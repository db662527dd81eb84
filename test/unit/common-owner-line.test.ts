import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { ownerPipeEnv, watchStopRequests, whenOwnerSendsLine } from '../../src/common/shutdown.js';

/**
 * `upload --start-when-told` waits for rehearse's line on the owner's pipe. The pipe is read from the
 * start of the process; a line that comes while the upload is still warming up (before it asks) must
 * not be lost: a rehearsal whose download was ready first waited for its upload until the deadline.
 */
describe('whenOwnerSendsLine', () => {
  it('resolves for a line the owner sent before anyone asked, and not before a line', async () => {
    const stdin = new PassThrough();
    const watched = watchStopRequests({
      stderr: new PassThrough(),
      exit: () => undefined as never,
      env: { [ownerPipeEnv]: '1' },
      stdin,
      outputs: [new PassThrough()],
    });
    try {
      const signal = new AbortController().signal;
      stdin.write('sta');
      await sleep(20);
      let early = false;
      const partial = whenOwnerSendsLine(signal, stdin).then(() => (early = true));
      await sleep(20);
      expect(early).toBe(false);
      stdin.write('rt\n{"second":"line"}\n');
      await partial;
      // Asked again, later: the line is remembered, and it is the first one (`download --schedule-from-owner` reads what it says).
      await expect(Promise.race([whenOwnerSendsLine(signal, stdin), sleep(200).then(() => 'waiting')])).resolves.toBe('start');
      expect(watched.signal.aborted).toBe(false);
    } finally {
      watched.dispose();
    }
  });
});
