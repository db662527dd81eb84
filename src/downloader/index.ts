export { runDownload, type DownloadRunOptions, type DownloadSummary } from './download-run.js';
export { DatasetPoller, type PollMode } from './poller.js';
