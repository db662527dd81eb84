export { startLake } from './lake.js';
export type { Lake, LakeOptions, LakeSettings, LakeAccountConfig, ObjectRef } from './lake.js';
export type { LakeRse, LakeRseConfig, RseKind } from './rse.js';
export { FaultController, faultSpecSchema, flipBytes } from './faults.js';
export type { FaultSpec, FaultCounters, CatalogFault, StorageFault } from './faults.js';
export { resolveRseExpression } from './rse-expression.js';
export { parsePythonLiteral } from './python-literal.js';
export { parseRucioDate, rfc1123 } from './dates.js';
