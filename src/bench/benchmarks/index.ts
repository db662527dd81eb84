import type { Benchmark } from '../types.js';
import { lakeThroughputBenchmark } from '../../lake/benchmark.js';
import { latency1hz } from './latency-1hz.js';
import { pacing } from './pacing.js';
import { pollCost } from './poll-cost.js';
import { replay14400 } from './replay-14400.js';
import { reportBuild } from './report-build.js';
import { rucioCalls } from './rucio-calls.js';
import { strainBulk, strainReplay, strainSynthetic } from './strain-throughput.js';

/**
 * Every benchmark `npm run bench` knows, in run order. To add one, write it in its own file in this
 * folder and add it here (upload latency, pacing, poll cost and the 14,400-chunk replay belong here).
 */
export const benchmarks: readonly Benchmark[] = [
  strainSynthetic,
  strainReplay,
  strainBulk,
  lakeThroughputBenchmark,
  rucioCalls,
  reportBuild,
  pollCost,
  pacing,
  latency1hz,
  replay14400,
];
