export { runDownload, processorFile, type DownloadRunOptions, type DownloadSummary } from './download-run.js';
export { DatasetPoller, type PollMode, type PollResult, type PollerOptions } from './poller.js';
export { verifyChunkContent } from './verify-chunk.js';
export { downloadQueueName, type DownloadJob, type DownloadOutcome } from './download-job.js';
