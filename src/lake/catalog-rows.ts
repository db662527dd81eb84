export type DidType = 'FILE' | 'DATASET' | 'CONTAINER';

export interface DidRow {
  scope: string;
  name: string;
  did_type: DidType;
  account: string;
  bytes: number | null;
  adler32: string | null;
  md5: string | null;
  guid: string | null;
  is_open: number | null;
  monotonic: number;
  length: number | null;
  meta: string | null;
  created_at: number;
  updated_at: number;
  closed_at: number | null;
  /** Set by the `lifetime` metadata key (rucio erase); Rucio's reaper would delete the DID after it. */
  expired_at: number | null;
}

export interface ContentRow {
  child_scope: string;
  child_name: string;
  child_type: DidType;
  bytes: number | null;
  adler32: string | null;
  md5: string | null;
}

/** A file as it arrives in POST /replicas or an attach with `rse` (already validated). */
export interface FileSpec {
  scope: string;
  name: string;
  bytes?: number | undefined;
  adler32?: string | undefined;
  md5?: string | undefined;
  guid?: string | undefined;
  state?: ReplicaState | undefined;
}

export type ReplicaState = 'A' | 'C' | 'U' | 'B' | 'D' | 'T' | 'S';

export const replicaStateNames: Record<ReplicaState, string> = {
  A: 'AVAILABLE',
  C: 'COPYING',
  U: 'UNAVAILABLE',
  B: 'BEING_DELETED',
  D: 'BAD',
  T: 'TEMPORARY_UNAVAILABLE',
  S: 'SUSPICIOUS',
};

export interface ReplicaRow {
  scope: string;
  name: string;
  rse: string;
  bytes: number;
  adler32: string | null;
  md5: string | null;
  state: ReplicaState;
  updated_at: number;
}

export interface AttachOptions {
  rse?: string | undefined;
  ignoreDuplicate?: boolean;
}
