import { z } from 'zod';

/**
 * Fault injection for reliability tests, off by default. Rules are matched in order; the first rule
 * whose method and pattern match a request decides its fate. Bursts (`next N requests`) are consumed
 * as they fire; rates are probabilities per matching request.
 */
const status = z.union([z.literal(500), z.literal(502), z.literal(503), z.literal(504)]);
const probability = z.number().min(0).max(1);
const count = z.number().int().min(0);
const pattern = z.string().refine((text) => {
  try {
    new RegExp(text);
    return true;
  } catch {
    return false;
  }
}, 'not a valid regular expression');

/** What a catalog rule and a storage rule can both do to a matching request. */
const requestFaults = {
  method: z.string().toUpperCase().optional(),
  latencyMs: z.number().min(0).max(600_000).optional(),
  errorRate: probability.optional(),
  errorBurst: count.optional(),
  status: status.optional(),
  dropRate: probability.optional(),
  dropBurst: count.optional(),
};

const catalogFaultSchema = z
  .object({
    /** Regex on the request path (without query), e.g. `^/dids/.+/dids$`. */
    path: pattern.optional(),
    ...requestFaults,
  })
  .strict();

const storageFaultSchema = z
  .object({
    /** Regex on `bucket/key` (or the file path for posix RSEs is not covered: S3 only). */
    key: pattern.optional(),
    ...requestFaults,
    /** Bytes stored differ from the bytes sent (PUT). */
    corruptWriteRate: probability.optional(),
    corruptWriteBurst: count.optional(),
    /** Bytes served differ from the bytes stored (GET). */
    corruptReadRate: probability.optional(),
    corruptReadBurst: count.optional(),
  })
  .strict();

export const faultSpecSchema = z
  .object({
    catalog: z.array(catalogFaultSchema).default([]),
    storage: z.array(storageFaultSchema).default([]),
  })
  .strict();

export type CatalogFault = z.infer<typeof catalogFaultSchema>;
export type StorageFault = z.infer<typeof storageFaultSchema>;
export type FaultSpec = z.input<typeof faultSpecSchema>;

export interface FaultCounters {
  catalog: { delayed: number; errors: number; drops: number };
  storage: { delayed: number; errors: number; drops: number; corruptedWrites: number; corruptedReads: number };
  objects: { corrupted: number; deleted: number };
}

export interface FaultDecision {
  latencyMs: number;
  errorStatus: number | undefined;
  drop: boolean;
}

interface Compiled<T> {
  rule: T;
  regex: RegExp | undefined;
}

const none: FaultDecision = { latencyMs: 0, errorStatus: undefined, drop: false };

export class FaultController {
  private catalogRules: Compiled<CatalogFault>[] = [];
  private storageRules: Compiled<StorageFault>[] = [];
  private readonly random: () => number;
  private count: FaultCounters = FaultController.zero();

  constructor(random: () => number = Math.random) {
    this.random = random;
  }

  private static zero(): FaultCounters {
    return {
      catalog: { delayed: 0, errors: 0, drops: 0 },
      storage: { delayed: 0, errors: 0, drops: 0, corruptedWrites: 0, corruptedReads: 0 },
      objects: { corrupted: 0, deleted: 0 },
    };
  }

  /** Replaces the active rules (throws a zod error for an invalid spec). Counters keep running. */
  set(spec: FaultSpec): void {
    const parsed = faultSpecSchema.parse(spec);
    this.catalogRules = parsed.catalog.map((rule) => ({ rule: { ...rule }, regex: rule.path === undefined ? undefined : new RegExp(rule.path) }));
    this.storageRules = parsed.storage.map((rule) => ({ rule: { ...rule }, regex: rule.key === undefined ? undefined : new RegExp(rule.key) }));
  }

  /** Removes every rule; counters are kept (see resetCounters). */
  clear(): void {
    this.catalogRules = [];
    this.storageRules = [];
  }

  resetCounters(): void {
    this.count = FaultController.zero();
  }

  get active(): boolean {
    return this.catalogRules.length > 0 || this.storageRules.length > 0;
  }

  counters(): FaultCounters {
    return structuredClone(this.count);
  }

  rules(): { catalog: CatalogFault[]; storage: StorageFault[] } {
    return { catalog: this.catalogRules.map((c) => ({ ...c.rule })), storage: this.storageRules.map((c) => ({ ...c.rule })) };
  }

  /** Counts an admin corruption/deletion of a stored object. */
  noteObject(kind: 'corrupted' | 'deleted'): void {
    this.count.objects[kind]++;
  }

  private fires(rule: { [key: string]: unknown }, rateKey: string, burstKey: string): boolean {
    const burst = rule[burstKey];
    if (typeof burst === 'number' && burst > 0) {
      rule[burstKey] = burst - 1;
      return true;
    }
    const rate = rule[rateKey];
    return typeof rate === 'number' && rate > 0 && this.random() < rate;
  }

  private decide(rules: Compiled<CatalogFault | StorageFault>[], counters: { delayed: number; errors: number; drops: number }, method: string, subject: string): FaultDecision {
    for (const { rule, regex } of rules) {
      if (rule.method !== undefined && rule.method !== method) continue;
      if (regex !== undefined && !regex.test(subject)) continue;
      // Rules that only corrupt bytes do not take part in the request-level decision.
      if (rule.latencyMs === undefined && rule.errorRate === undefined && rule.errorBurst === undefined && rule.dropRate === undefined && rule.dropBurst === undefined) continue;
      const mutable = rule as { [key: string]: unknown };
      const drop = this.fires(mutable, 'dropRate', 'dropBurst');
      const error = !drop && this.fires(mutable, 'errorRate', 'errorBurst');
      const latencyMs = rule.latencyMs ?? 0;
      if (latencyMs > 0) counters.delayed++;
      if (drop) counters.drops++;
      if (error) counters.errors++;
      return { latencyMs, drop, errorStatus: error ? (rule.status ?? 503) : undefined };
    }
    return none;
  }

  catalogDecision(method: string, path: string): FaultDecision {
    if (this.catalogRules.length === 0) return none;
    return this.decide(this.catalogRules, this.count.catalog, method, path);
  }

  storageDecision(method: string, key: string): FaultDecision {
    if (this.storageRules.length === 0) return none;
    return this.decide(this.storageRules, this.count.storage, method, key);
  }

  /** Whether this write (PUT) or read (GET) of `key` is to be corrupted; counts it if so. */
  corrupt(kind: 'write' | 'read', key: string): boolean {
    for (const { rule, regex } of this.storageRules) {
      if (regex !== undefined && !regex.test(key)) continue;
      if (rule.method !== undefined && rule.method !== (kind === 'write' ? 'PUT' : 'GET')) continue;
      const mutable = rule as { [k: string]: unknown };
      const hit = kind === 'write'
        ? this.fires(mutable, 'corruptWriteRate', 'corruptWriteBurst')
        : this.fires(mutable, 'corruptReadRate', 'corruptReadBurst');
      if (hit) {
        if (kind === 'write') this.count.storage.corruptedWrites++;
        else this.count.storage.corruptedReads++;
        return true;
      }
    }
    return false;
  }
}

/** Flips bytes so the content no longer matches its checksums (same length, so sizes still agree). */
export function flipBytes(bytes: Buffer): Buffer {
  const out = Buffer.from(bytes);
  if (out.length === 0) return Buffer.from([0x2a]);
  const positions = [0, Math.floor(out.length / 2), out.length - 1];
  for (const position of positions) out[position] = (out[position] ?? 0) ^ 0xff;
  return out;
}
