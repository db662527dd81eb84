import { z } from 'zod';

/** One file's replicas as `POST /replicas/list` describes them, PFNs sorted best first. */
export interface ReplicaRecord {
  scope: string;
  name: string;
  bytes: number;
  adler32: string;
  md5?: string | undefined;
  pfns: ReplicaPfn[];
  /** RSE name → replica state (AVAILABLE, COPYING, ...). */
  states: Record<string, string>;
}

export interface ReplicaPfn {
  pfn: string;
  rse: string;
  priority: number;
  domain: string;
}

const jsonReplica = z.object({
  scope: z.string(),
  name: z.string(),
  bytes: z.number().int().min(0),
  adler32: z.string().nullish(),
  md5: z.string().nullish(),
  pfns: z
    .record(
      z.string(),
      z.object({
        rse: z.string(),
        priority: z.coerce.number().nullish(),
        domain: z.string().nullish(),
      }),
    )
    .nullish(),
  states: z.record(z.string(), z.string()).nullish(),
});

export function sortPfns(pfns: ReplicaPfn[]): ReplicaPfn[] {
  return pfns.sort((a, b) => a.priority - b.priority || a.rse.localeCompare(b.rse));
}

/** Validates one x-json-stream line of `POST /replicas/list`. */
export function replicaFromJson(line: unknown): ReplicaRecord {
  const r = jsonReplica.parse(line);
  const pfns = Object.entries(r.pfns ?? {}).map(([pfn, info]) => ({
    pfn,
    rse: info.rse,
    priority: info.priority ?? 1,
    domain: info.domain ?? 'wan',
  }));
  return {
    scope: r.scope,
    name: r.name,
    bytes: r.bytes,
    adler32: r.adler32 ?? '',
    md5: r.md5 ?? undefined,
    pfns: sortPfns(pfns),
    states: r.states ?? {},
  };
}

/** Rucio's `updated_after` format: '%Y-%m-%dT%H:%M:%S' in UTC. Numbers are epoch milliseconds. */
export function rucioTimestamp(value: Date | number): string {
  const date = typeof value === 'number' ? new Date(value) : value;
  return date.toISOString().slice(0, 19);
}
