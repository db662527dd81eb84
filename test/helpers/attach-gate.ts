import type { RucioClient } from '../../src/rucio/index.js';

/**
 * The real client with a gate in front of its first attach: that request leaves only when released,
 * so that a test can line uploads up behind it and see how the batcher groups them.
 */
export function gatedFirstAttach(client: Pick<RucioClient, 'attachDids'>): { client: Pick<RucioClient, 'attachDids'>; release: () => void } {
  let release = (): void => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let first = true;
  return {
    client: {
      attachDids: async (...args: Parameters<RucioClient['attachDids']>) => {
        if (first) {
          first = false;
          await gate;
        }
        return client.attachDids(...args);
      },
    },
    release,
  };
}

/** Waits until `condition` holds (checked every 5 ms), or fails naming `what` after `timeoutMs`. */
export async function until(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
