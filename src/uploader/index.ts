export { runUpload, type UploadRunOptions, type UploadSummary } from './upload-run.js';
export { startWorkerPool } from './worker-pool.js';
