/** One measured number. `target` is a comparison such as '<= 5' or '>= 1000' in the metric's unit. */
export interface Metric {
  name: string;
  value: number;
  unit: string;
  target?: string;
  note?: string;
  /** A stable id within its benchmark, for summaries that pick metrics out (issue-targets.ts). */
  key?: string;
}

export interface BenchContext {
  /** A private scratch directory, removed after the benchmark. */
  workDir: string;
  /** Progress for people, on stderr. */
  log: (line: string) => void;
}

/**
 * A benchmark runs in a Node process of its own (so peak RSS belongs to it alone) and returns its
 * metrics. Register it in `benchmarks/index.ts`.
 */
export interface Benchmark {
  /** kebab-case, unique; also the BENCHMARKS.md section id. */
  name: string;
  title: string;
  /** What is measured and how, one paragraph for BENCHMARKS.md. */
  description: string;
  /** Target for the peak RSS of the benchmark's process, in MB (e.g. '< 100'), when there is one. */
  peakRssTarget?: string;
  run(context: BenchContext): Promise<Metric[]>;
}

export interface BenchmarkResult {
  name: string;
  title: string;
  description: string;
  startedAt: string;
  durationMs: number;
  peakRssMb: number;
  metrics: (Metric & { met?: boolean })[];
}

export interface MachineInfo {
  cpuModel: string;
  cpuCount: number;
  memoryGiB: number;
  node: string;
  platform: string;
  /** 1-minute load average when the run started: timings on a busy machine are not comparable. */
  loadAverage: number;
  commit?: string;
}
