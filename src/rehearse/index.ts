export { rehearse, type RehearseOptions, type RehearseResult } from './rehearse.js';
export { packageRoot, startWavefier, wavefierExecutable, type ChildResult, type RunningChild } from './child.js';
export { startLakeProcess, type LakeFaultState, type LakeProcess } from './lake-process.js';
export { startRedis, startStack, type RedisChoice, type Stack, type StackOptions } from './stack.js';
