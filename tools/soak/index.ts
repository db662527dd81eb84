/**
 * The soak: a fault-injected reliability run of the whole stack (embedded lake, private Redis,
 * upload producer and upload-worker processes, downloader) and its verdict.
 */
export { runSoak, soakSummaryJson, type SoakOptions, type SoakResult, type InjectedFault } from './run-soak.js';
export { soakVerdict, type SoakVerdict, type SoakCheck, type SoakVerdictInput } from './verdict.js';
export { auditDataset, type DatasetAudit, type CatalogChecksums } from './dataset-audit.js';
export { defaultSchedule, describeStep, faultKinds, faultStepSchema, scheduleSchema, type FaultKind, type FaultStep } from './schedule.js';
export { parseSoakArgs, soakUsage, type ParsedSoakArgs } from './soak-options.js';
export { renderSoak } from './render.js';
