export { runDownload } from './download-run.js';
export type { DownloadPollMode, DownloadRunOptions } from './download-run-options.js';
export type { DownloadSummary } from './download-summary.js';
export { DatasetPoller, type PollMode } from './poller.js';
export { serveDownloadWorkers, type DownloadWorkerCounts, type DownloadWorkerServiceOptions } from './download-worker-service.js';
export { downloadWorkerRucioEnv } from './worker-pool.js';
