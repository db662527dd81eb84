export { runUpload, type UploadRunOptions, type UploadSummary } from './upload-run.js';
export type { ResumeFlags } from './run-plan.js';
export { serveUploadWorkers, type UploadWorkerCounts, type UploadWorkerServiceOptions } from './upload-worker-service.js';
export { planUploadDryRun, type UploadDryRun } from './dry-run.js';
export { describeReplay, describeSourceFlags } from './replay-description.js';
export { replayLine, sourceSpecFrom, type ReplayDescription, type SourceFlags } from './replay.js';
export { prepareUploadRun, type PreparedRun } from './preflight.js';
