export { runUpload, type UploadRunOptions, type UploadSummary } from './upload-run.js';
export { startUploadWorker, workerLockSettings, type UploadWorkerOptions } from './upload-worker.js';
export { runPacer, dueAt, defaultLateTolerance, type LatePolicy, type PacerTick, type Schedule } from './pacer.js';
export { RunState, type RunSettings } from './run-state.js';
export { uploadQueueName, uploadJobId, type UploadJob } from './job.js';
export { startWorkerPool, type WorkerPool, type WorkerPoolOptions } from './worker-pool.js';
