export { runDownload, type DownloadPollMode, type DownloadRunOptions, type DownloadSummary } from './download-run.js';
export { DatasetPoller, type PollMode } from './poller.js';
export { serveDownloadWorkers, type DownloadWorkerCounts, type DownloadWorkerServiceOptions } from './download-worker-service.js';
export { downloadWorkerRucioEnv } from './worker-pool.js';
