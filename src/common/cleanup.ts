/** How long one shutdown step (closing a queue, a worker pool, a server) may take before we move on. */
export const cleanupStepTimeoutMs = 15_000;

/**
 * Waits for a cleanup step, but not forever: a step that hangs (a worker pool whose child never
 * answers) must not keep a stopping process alive; the next steps still run.
 */
export async function boundedCleanup(step: unknown, timeoutMs = cleanupStepTimeoutMs): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`a shutdown step did not finish within ${timeoutMs / 1000} s; going on`)), timeoutMs);
  });
  try {
    await Promise.race([Promise.resolve(step), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
