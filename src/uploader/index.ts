export { runUpload, type UploadRunOptions, type UploadSummary } from './upload-run.js';
export type { ResumeFlags } from './run-plan.js';
export { serveUploadWorkers, type UploadWorkerCounts, type UploadWorkerServiceOptions } from './upload-worker-service.js';
