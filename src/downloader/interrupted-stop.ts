import { setTimeout as sleep } from 'node:timers/promises';
import type { Queue } from 'bullmq';
import { boundedCleanup } from '../common/cleanup.js';
import type { EventLog } from '../common/event-log.js';

/** After a Ctrl-C: how long chunks in flight may take. */
const interruptedDrainMs = 2000;

/**
 * After a Ctrl-C (DESIGN §5: back within 5 s) the workers take no new chunk and those in flight get a
 * short moment; chunks still queued or waiting for a retry are found again by the next download of
 * the dataset. Bounded: with Redis gone (its owner stopped it first) the queue would wait for it forever.
 */
export async function stopTakingChunks(queue: Queue, pending: ReadonlyMap<string, unknown>, log: Pick<EventLog, 'diagnostic'>, now: () => number): Promise<void> {
  await boundedCleanup(
    queue.pause().then(() => untilStartedAnswered(queue, pending, interruptedDrainMs, now)),
    interruptedDrainMs + 1000,
  ).catch(() => log.diagnostic('warn', 'Redis did not answer while the download stopped: the chunks in flight are found again by the next download'));
}

/**
 * Waits until every chunk a worker has started on has its answer here: the chunks still pending are
 * then all still queued (waiting, or delayed for a retry). Bounded by `timeoutMs`.
 */
async function untilStartedAnswered(queue: Queue, pending: ReadonlyMap<string, unknown>, timeoutMs: number, now: () => number): Promise<void> {
  const deadline = now() + timeoutMs;
  while (pending.size > 0 && now() < deadline) {
    const counts = await queue.getJobCounts('waiting', 'delayed', 'prioritized');
    const notStarted = Object.values(counts).reduce((sum, count) => sum + count, 0);
    if (pending.size <= notStarted) return;
    await sleep(25);
  }
}
