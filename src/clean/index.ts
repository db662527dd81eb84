export { checkCleanable, executeClean, planClean } from './clean.js';
export type { CleanPlan, CleanResult, DatasetRef, ReplicaEntry } from './clean.js';
