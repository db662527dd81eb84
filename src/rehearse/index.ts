export { rehearse, type RehearseOptions, type RehearseResult } from './rehearse.js';
export { packageRoot, startWavefier, wavefierExecutable, type ChildResult, type RunningChild } from './child.js';
