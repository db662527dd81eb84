import type { Benchmark } from '../types.js';

/**
 * Every benchmark `npm run bench` knows, in run order, by the module that defines it. Modules load
 * on demand: a benchmark's process loads its own module only, so its peak RSS is not inflated by the
 * others' dependencies (the report's plotting stack, the AWS SDK: ~75 MB together). To add a
 * benchmark, write it in its own file in this folder and add it here.
 */
const sources: readonly { names: readonly string[]; load: () => Promise<readonly Benchmark[]> }[] = [
  {
    names: ['strain-synthetic', 'strain-replay', 'strain-bulk'],
    load: async () => {
      const module = await import('./strain-throughput.js');
      return [module.strainSynthetic, module.strainReplay, module.strainBulk];
    },
  },
  { names: ['lake-throughput'], load: async () => [(await import('./lake-throughput.js')).lakeThroughputBenchmark] },
  { names: ['rucio-calls'], load: async () => [(await import('./rucio-calls.js')).rucioCalls] },
  { names: ['report-build'], load: async () => [(await import('./report-build.js')).reportBuild] },
  { names: ['poll-cost'], load: async () => [(await import('./poll-cost.js')).pollCost] },
  { names: ['pacing'], load: async () => [(await import('./pacing.js')).pacing] },
  {
    names: ['latency-1hz', 'latency-rate-10'],
    load: async () => {
      const module = await import('./latency.js');
      return [module.latency1hz, module.latencyRate10];
    },
  },
  { names: ['latency-chunk0'], load: async () => [(await import('./chunk-zero.js')).latencyChunk0] },
  { names: ['replay-14400'], load: async () => [(await import('./replay-14400.js')).replay14400] },
  { names: ['memory-paced'], load: async () => [(await import('./memory-paced.js')).memoryPaced] },
  { names: ['rucio-real'], load: async () => [(await import('./rucio-real.js')).rucioReal] },
  { names: ['rucio-real-live'], load: async () => [(await import('./rucio-real-live.js')).rucioRealLive] },
];

export const benchmarkNames: readonly string[] = sources.flatMap((source) => source.names);

/** The named benchmarks (all when `names` is undefined), in run order, loading only their modules. */
export async function loadBenchmarks(names?: readonly string[]): Promise<Benchmark[]> {
  const wanted = names === undefined ? undefined : new Set(names);
  const loaded: Benchmark[] = [];
  for (const source of sources) {
    if (wanted !== undefined && !source.names.some((name) => wanted.has(name))) continue;
    for (const benchmark of await source.load()) if (wanted === undefined || wanted.has(benchmark.name)) loaded.push(benchmark);
  }
  return loaded;
}
