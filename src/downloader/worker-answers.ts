import { QueueEvents, type ConnectionOptions } from 'bullmq';
import { errorMessage } from '../common/errors.js';
import type { EventLog } from '../common/event-log.js';
import { parseWorkerAnswer, type WorkerAnswer } from './download-job.js';

/** Where the answers for chunk jobs go. */
export interface AnswerHandlers {
  completed(answer: WorkerAnswer): void;
  /** A job that failed for good (its attempts are used up). */
  failed(jobId: string, reason: string): void;
}

/**
 * The answers of the download workers, wherever they run: BullMQ writes each job's completion (with
 * the worker's answer) and each final failure to the queue's event stream in the same step that
 * finishes the job, and this reads that stream from its beginning (the queue is the run's own), so no
 * answer is missed, not even one that came before this reader was connected.
 */
export class WorkerAnswers {
  private readonly events: QueueEvents;

  constructor(queueName: string, connection: ConnectionOptions, handlers: AnswerHandlers, log: EventLog) {
    this.events = new QueueEvents(queueName, { connection, lastEventId: '0-0', autorun: true });
    this.events.on('completed', ({ jobId, returnvalue }) => {
      let answer: WorkerAnswer;
      try {
        answer = parseWorkerAnswer(returnvalue);
      } catch (error) {
        log.diagnostic('error', 'ignored a download worker answer that does not parse', { job: jobId, error: errorMessage(error) });
        return;
      }
      handlers.completed(answer);
    });
    this.events.on('failed', ({ jobId, failedReason }) => handlers.failed(jobId, failedReason));
    this.events.on('stalled', ({ jobId }) => log.diagnostic('warn', 'a download job stalled (its worker stopped answering); it is queued again', { job: jobId }));
    this.events.on('error', (error) => log.diagnostic('warn', 'download answers: connection error', { error: errorMessage(error) }));
  }

  /** Resolves once the reader's connection is up. */
  async ready(): Promise<void> {
    await this.events.waitUntilReady();
  }

  close(): Promise<void> {
    return this.events.close();
  }
}
