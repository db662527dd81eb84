import { DidCalls, type Did, type FileDid } from './client-dids.js';
import type { CallRequest } from './client-rest.js';
import { replicaFromJson, rucioTimestamp, type ReplicaRecord } from './replicas.js';

export interface ReplicaQuery {
  dids: Did[];
  /**
   * Only replicas updated at or after this time (epoch ms when a number). A whole second goes in
   * Rucio's '%Y-%m-%dT%H:%M:%S' form; a time with a fraction of a second as epoch seconds, which
   * Rucio's REST layer also takes (and compares at the resolution its database keeps).
   */
  updatedAfter?: Date | number;
  rseExpression?: string;
  /** Include replicas that are not AVAILABLE (COPYING, BAD, ...). */
  allStates?: boolean;
  schemes?: string[];
  /** Ask for metalink4 XML instead of the JSON stream (what `rucio download` does). */
  metalink?: boolean;
}

export interface ReplicaFile extends FileDid {
  bytes: number;
  adler32: string;
  state?: 'A' | 'C' | 'U' | 'B' | 'D' | 'T';
  pfn?: string;
}

/** The replica calls: list (incrementally, by update time), register, and change replica states. */
export class ReplicaCalls extends DidCalls {
  /**
   * `POST /replicas/list`: files (datasets are expanded by the server) with PFNs and checksums, in one
   * call. `updatedAfter` makes a poll cost O(new files); the JSON stream is parsed line by line.
   */
  async *listReplicas(q: ReplicaQuery, opts: { signal?: AbortSignal } = {}): AsyncGenerator<ReplicaRecord> {
    const body: Record<string, unknown> = {
      dids: q.dids.map((d) => ({ scope: d.scope, name: d.name })),
      all_states: q.allStates ?? false,
    };
    if (q.updatedAfter !== undefined) {
      const ms = typeof q.updatedAfter === 'number' ? q.updatedAfter : q.updatedAfter.getTime();
      body.updated_after = ms % 1000 === 0 ? rucioTimestamp(ms) : ms / 1000;
    }
    if (q.rseExpression !== undefined) body.rse_expression = q.rseExpression;
    if (q.schemes !== undefined) body.schemes = q.schemes;
    const subject = q.dids.map((d) => `${d.scope}:${d.name}`).join(',');
    const base: CallRequest = {
      method: 'POST',
      path: '/replicas/list',
      endpoint: 'POST /replicas/list',
      operation: 'list replicas',
      subject,
      json: body,
      idempotent: true,
      signal: opts.signal,
    };
    if (q.metalink === true) {
      const response = await this.call({ ...base, accept: 'application/metalink4+xml' });
      const xml = response.body ? await response.body.text() : '';
      const { replicasFromMetalink } = await import('./replicas-metalink.js');
      yield* replicasFromMetalink(xml);
      return;
    }
    for await (const line of this.lines(base)) yield replicaFromJson(line);
  }

  /** `POST /replicas`: registers file replicas (state A by default; C for the official client's sequence). */
  async addReplicas(rse: string, files: ReplicaFile[], opts: { ignoreAvailability?: boolean } = {}): Promise<void> {
    await this.done({
      method: 'POST',
      path: '/replicas',
      endpoint: 'POST /replicas',
      operation: `register replicas on ${rse}`,
      subject: files.length === 1 && files[0] ? `${files[0].scope}:${files[0].name}` : `${files.length} files`,
      json: { rse, files, ...(opts.ignoreAvailability === true ? { ignore_availability: true } : {}) },
      registersReplicas: true,
      checkApplied: async () => {
        for (const f of files) if (!(await this.exists(f.scope, f.name))) return false;
        return true;
      },
    });
  }

  /** `PUT /replicas`: changes replica states, e.g. COPYING → AVAILABLE. */
  async updateReplicas(rse: string, files: (Did & { state: string } & Partial<ReplicaFile>)[]): Promise<void> {
    await this.done({
      method: 'PUT',
      path: '/replicas',
      endpoint: 'PUT /replicas',
      operation: `update replica states on ${rse}`,
      subject: files.length === 1 && files[0] ? `${files[0].scope}:${files[0].name}` : `${files.length} files`,
      json: { rse, files },
      idempotent: true,
      registersReplicas: true,
    });
  }
}
