import type { Statement } from 'better-sqlite3';
import type { Db } from './database.js';
import { RucioApiError, rucioErrors } from './rucio-error.js';
import { isValidName, isValidScope } from './names.js';

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

/**
 * What Rucio 1.31 answers, on SQLite, when a file is attached to a collection that already holds it:
 * the database's integrity error, as the message of FileAlreadyExists (the conformance suite checks it
 * against the real server).
 */
const duplicateContentMessage =
  "('(sqlite3.IntegrityError) UNIQUE constraint failed: contents.scope, contents.name, contents.child_scope, contents.child_name',)";

/** Rucio's naming convention without registered conventions: the project of user* and group* scopes. */
export function conventionProject(scope: string): 'user' | 'group' | null {
  return scope.startsWith('user') ? 'user' : scope.startsWith('group') ? 'group' : null;
}

/** A clock that never goes backwards within the process, so `updated_after` polls see every change. */
function monotonicNow(last: { value: number }): number {
  const now = Date.now();
  last.value = now > last.value ? now : last.value + 0.001;
  return last.value;
}

/**
 * The data-identifier catalog: DIDs, dataset contents and replicas over SQLite. Every mutation runs
 * in one transaction; the caller has validated shapes, this class enforces Rucio's semantics
 * (existence, closed datasets, duplicates, checksum consistency).
 */
export class Catalog {
  private readonly clock = { value: 0 };
  private readonly s: {
    getDid: Statement<[string, string], DidRow>;
    insertDid: Statement<
      [string, string, string, string, number | null, string | null, string | null, string | null, number | null, number, string | null, number, number]
    >;
    closeDid: Statement<[number | null, number | null, number, number, string, string]>;
    setExpiry: Statement<[number | null, number, string, string]>;
    deleteContent: Statement<[string, string, string, string]>;
    shrinkContentSize: Statement<[number, string, string]>;
    detachedFromDid: Statement<[number, string, string]>;
    reopenDid: Statement<[number, string, string]>;
    setMeta: Statement<[string, number, string, string]>;
    insertContent: Statement<[string, string, string, string, string, number | null, string | null, string | null, number]>;
    getContent: Statement<[string, string, string, string], { child_name: string }>;
    listContent: Statement<[string, string], ContentRow>;
    countContent: Statement<[string, string], { length: number; bytes: number | null }>;
    getContentSize: Statement<[string, string], { length: number; bytes: number }>;
    upsertContentSize: Statement<[string, string, number, number]>;
    listParents: Statement<[string, string], { scope: string; name: string; did_type: DidType }>;
    getReplica: Statement<[string, string, string], ReplicaRow>;
    insertReplica: Statement<[string, string, string, number, string | null, string | null, string, number, number]>;
    updateReplicaState: Statement<[string, number, string, string, string]>;
    replicasOfFile: Statement<[string, string], ReplicaRow>;
    replicasOfDataset: Statement<[string, string], ReplicaRow>;
    replicasOfDatasetSince: Statement<[number, string, string], ReplicaRow>;
    searchDids: Statement<[string, number, number], DidRow>;
  };
  readonly transaction: <T>(fn: () => T) => T;

  constructor(private readonly db: Db) {
    // expired_at came after the first lakes: add it to a catalog that predates it.
    const columns = db.prepare<[], { name: string }>("SELECT name FROM pragma_table_info('dids')").all();
    if (!columns.some((column) => column.name === 'expired_at')) db.exec('ALTER TABLE dids ADD COLUMN expired_at REAL');
    const replicaColumns = 'r.scope, r.name, r.rse, r.bytes, r.adler32, r.md5, r.state, r.updated_at';
    this.s = {
      getDid: db.prepare('SELECT * FROM dids WHERE scope = ? AND name = ?'),
      insertDid: db.prepare(
        `INSERT INTO dids (scope, name, did_type, account, bytes, adler32, md5, guid, is_open, monotonic, meta, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      closeDid: db.prepare(
        'UPDATE dids SET is_open = 0, length = ?, bytes = ?, closed_at = ?, updated_at = ? WHERE scope = ? AND name = ?',
      ),
      setExpiry: db.prepare('UPDATE dids SET expired_at = ?, updated_at = ? WHERE scope = ? AND name = ?'),
      deleteContent: db.prepare('DELETE FROM contents WHERE scope = ? AND name = ? AND child_scope = ? AND child_name = ?'),
      shrinkContentSize: db.prepare('UPDATE content_sizes SET length = length - 1, bytes = bytes - ? WHERE scope = ? AND name = ?'),
      // Rucio's detach lowers the length and bytes columns when they are set (a closed collection).
      detachedFromDid: db.prepare(
        `UPDATE dids SET length = CASE WHEN length > 0 THEN length - 1 ELSE length END,
         bytes = CASE WHEN bytes > 0 THEN bytes - ? ELSE bytes END WHERE scope = ? AND name = ?`,
      ),
      reopenDid: db.prepare('UPDATE dids SET is_open = 1, closed_at = NULL, updated_at = ? WHERE scope = ? AND name = ?'),
      setMeta: db.prepare('UPDATE dids SET meta = ?, updated_at = ? WHERE scope = ? AND name = ?'),
      insertContent: db.prepare(
        `INSERT INTO contents (scope, name, child_scope, child_name, child_type, bytes, adler32, md5, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      getContent: db.prepare(
        'SELECT child_name FROM contents WHERE scope = ? AND name = ? AND child_scope = ? AND child_name = ?',
      ),
      listContent: db.prepare(
        'SELECT child_scope, child_name, child_type, bytes, adler32, md5 FROM contents WHERE scope = ? AND name = ? ORDER BY child_scope, child_name',
      ),
      countContent: db.prepare('SELECT COUNT(*) AS length, SUM(bytes) AS bytes FROM contents WHERE scope = ? AND name = ?'),
      getContentSize: db.prepare('SELECT length, bytes FROM content_sizes WHERE scope = ? AND name = ?'),
      upsertContentSize: db.prepare(
        `INSERT INTO content_sizes (scope, name, length, bytes) VALUES (?, ?, ?, ?)
         ON CONFLICT (scope, name) DO UPDATE SET length = length + excluded.length, bytes = bytes + excluded.bytes`,
      ),
      listParents: db.prepare(
        `SELECT c.scope AS scope, c.name AS name, d.did_type AS did_type FROM contents c
         JOIN dids d ON d.scope = c.scope AND d.name = c.name WHERE c.child_scope = ? AND c.child_name = ?`,
      ),
      getReplica: db.prepare('SELECT * FROM replicas WHERE scope = ? AND name = ? AND rse = ?'),
      insertReplica: db.prepare(
        `INSERT INTO replicas (scope, name, rse, bytes, adler32, md5, state, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      updateReplicaState: db.prepare('UPDATE replicas SET state = ?, updated_at = ? WHERE scope = ? AND name = ? AND rse = ?'),
      replicasOfFile: db.prepare(`SELECT ${replicaColumns} FROM replicas r WHERE r.scope = ? AND r.name = ?`),
      replicasOfDataset: db.prepare(
        `SELECT ${replicaColumns} FROM contents c JOIN replicas r ON r.scope = c.child_scope AND r.name = c.child_name
         WHERE c.scope = ? AND c.name = ? ORDER BY c.child_scope, c.child_name`,
      ),
      // CROSS JOIN pins the join order: walk only the replicas changed since the cut-off (index on
      // updated_at), then probe the dataset's contents by primary key. Cost O(new replicas).
      replicasOfDatasetSince: db.prepare(
        `SELECT ${replicaColumns} FROM replicas r INDEXED BY replicas_updated CROSS JOIN contents c
         WHERE r.updated_at >= ? AND c.scope = ? AND c.name = ? AND c.child_scope = r.scope AND c.child_name = r.name
         ORDER BY r.updated_at`,
      ),
      searchDids: db.prepare(
        'SELECT * FROM dids WHERE scope = ? AND created_at >= ? AND created_at <= ? ORDER BY created_at, name',
      ),
    };
    // One transaction function for all: db.transaction() builds five wrapper closures per call.
    const inTransaction = db.transaction((fn: () => unknown) => fn());
    this.transaction = <T>(fn: () => T): T => inTransaction(fn) as T;
  }

  now(): number {
    return monotonicNow(this.clock);
  }

  findDid(scope: string, name: string): DidRow | undefined {
    return this.s.getDid.get(scope, name);
  }

  getDid(scope: string, name: string): DidRow {
    const row = this.s.getDid.get(scope, name);
    if (row === undefined) throw rucioErrors.didNotFound(scope, name);
    return row;
  }

  /** Direct children and their bytes, kept up to date by attach (O(1) for the downloader's probe). */
  private directSize(scope: string, name: string): { length: number; bytes: number } {
    const kept = this.s.getContentSize.get(scope, name);
    if (kept !== undefined) return kept;
    // A collection from before the counter existed: count once and keep it.
    const row = this.s.countContent.get(scope, name);
    const size = { length: row?.length ?? 0, bytes: row?.bytes ?? 0 };
    this.s.upsertContentSize.run(scope, name, size.length, size.bytes);
    return size;
  }

  /**
   * Length and bytes counted now (Rucio's dynamic_depth=FILE): files of a dataset, summed over the
   * datasets below a container. The `length` column itself stays null until the dataset is closed.
   */
  dynamicSize(scope: string, name: string): { length: number; bytes: number } {
    const row = this.findDid(scope, name);
    if (row?.did_type !== 'CONTAINER') return this.directSize(scope, name);
    let length = 0;
    let bytes = 0;
    for (const dataset of this.resolveDatasets(row)) {
      const size = this.directSize(dataset.scope, dataset.name);
      length += size.length;
      bytes += size.bytes;
    }
    return { length, bytes };
  }

  /** A container's length and bytes at depth DATASET: the sum of its datasets' columns (null counts as 0). */
  datasetColumnsSum(scope: string, name: string): { length: number; bytes: number } {
    let length = 0;
    let bytes = 0;
    for (const child of this.s.listContent.all(scope, name)) {
      if (child.child_type !== 'DATASET') continue;
      const row = this.findDid(child.child_scope, child.child_name);
      length += row?.length ?? 0;
      bytes += row?.bytes ?? 0;
    }
    return { length, bytes };
  }

  addCollection(input: {
    scope: string;
    name: string;
    type: 'DATASET' | 'CONTAINER';
    account: string;
    monotonic: boolean;
    meta: Record<string, unknown>;
    scopeExists: boolean;
  }): void {
    if (!isValidScope(input.scope)) throw rucioErrors.invalidObject(`Problem validating scope: '${input.scope}' does not match ^[a-zA-Z_\\-.0-9]+$ (max 25 characters)`);
    if (!isValidName(input.name)) throw rucioErrors.invalidObject(`Problem validating name: '${input.name}' does not match ^[/A-Za-z0-9][/A-Za-z0-9\\.\\-_]*$ (max 250 characters)`);
    if (!input.scopeExists) throw rucioErrors.scopeNotFound(input.scope);
    if (this.findDid(input.scope, input.name) !== undefined) throw rucioErrors.didAlreadyExists();
    const now = this.now();
    const meta = Object.keys(input.meta).length === 0 ? null : JSON.stringify(input.meta);
    this.s.insertDid.run(input.scope, input.name, input.type, input.account, null, null, null, null, 1, input.monotonic ? 1 : 0, meta, now, now);
    this.s.upsertContentSize.run(input.scope, input.name, 0, 0);
  }

  /**
   * Registers the file DID if new. An existing one is left as it is, whatever the request says about
   * it: Rucio's add_replicas does not compare (an attach does, afterwards).
   */
  private ensureFileDid(file: FileSpec, account: string, scopeExists: (scope: string) => boolean, meta: Record<string, unknown> = {}): DidRow {
    const existing = this.findDid(file.scope, file.name);
    if (existing?.did_type === 'FILE') return existing;
    if (!scopeExists(file.scope)) throw rucioErrors.scopeNotFound(file.scope);
    if (file.bytes === undefined) throw rucioErrors.invalidObject(`Problem validating file '${file.scope}:${file.name}': 'bytes' is a required property`);
    if (existing !== undefined) throw rucioErrors.didAlreadyExists();
    const now = this.now();
    const row: DidRow = {
      scope: file.scope,
      name: file.name,
      did_type: 'FILE',
      account,
      bytes: file.bytes,
      adler32: file.adler32?.toLowerCase() ?? null,
      md5: file.md5?.toLowerCase() ?? null,
      guid: file.guid ?? null,
      is_open: null,
      monotonic: 0,
      length: null,
      meta: Object.keys(meta).length === 0 ? null : JSON.stringify(meta),
      created_at: now,
      updated_at: now,
      closed_at: null,
      expired_at: null,
    };
    this.s.insertDid.run(row.scope, row.name, 'FILE', account, row.bytes, row.adler32, row.md5, row.guid, null, 0, row.meta, now, now);
    return row;
  }

  /** Rucio's attach compares every checksum the request gives with the DID's, as strings. */
  private checkConsistency(file: FileSpec, row: DidRow): void {
    const mismatch = (key: string, given: string | number, stored: string | number | null): never => {
      throw rucioErrors.consistencyMismatch(`${key} mismatch for '${row.scope}:${row.name}': ${String(given)}!=${String(stored)}`);
    };
    if (file.bytes !== undefined && file.bytes !== row.bytes) mismatch('bytes', file.bytes, row.bytes);
    if (file.adler32 !== undefined && file.adler32.toLowerCase() !== row.adler32) mismatch('adler32', file.adler32, row.adler32);
    if (file.md5 !== undefined && file.md5.toLowerCase() !== row.md5) mismatch('md5', file.md5, row.md5);
  }

  /** A replica that is already registered is left alone (Rucio's bulk insert skips it). */
  private insertReplica(rse: string, file: FileSpec, did: DidRow, state: ReplicaState): void {
    if (this.s.getReplica.get(file.scope, file.name, rse) !== undefined) return;
    const now = this.now();
    this.s.insertReplica.run(
      file.scope, file.name, rse, file.bytes ?? did.bytes ?? 0, file.adler32?.toLowerCase() ?? did.adler32 ?? null,
      file.md5?.toLowerCase() ?? did.md5 ?? null, state, now, now,
    );
  }

  /** POST /replicas: file DIDs (created if new) and their replicas on `rse`, in one transaction. */
  addReplicas(rse: string, files: readonly FileSpec[], account: string, scopeExists: (scope: string) => boolean): void {
    this.transaction(() => {
      for (const file of files) {
        const did = this.ensureFileDid(file, account, scopeExists);
        this.insertReplica(rse, file, did, file.state ?? 'A');
      }
    });
  }

  /** PUT /replicas: state changes of existing replicas. */
  updateReplicaStates(rse: string, files: readonly { scope: string; name: string; state: ReplicaState }[]): void {
    this.transaction(() => {
      for (const file of files) {
        const result = this.s.updateReplicaState.run(file.state, this.now(), file.scope, file.name, rse);
        if (result.changes === 0) {
          // Uncaught by the replicas view, hence a 500 (core/replica.py update_replicas_states).
          throw new RucioApiError(500, 'UnsupportedOperation', `State ReplicaState.${replicaStateNames[file.state]} for replica ${file.scope}:${file.name} on ${rse} cannot be updated`);
        }
      }
    });
  }

  /**
   * POST /dids/{s}/{n}/dids (and the bulk form): attach children to a collection. With `rse`, the
   * files are first registered with an AVAILABLE replica on that RSE (new DIDs and replicas only),
   * then every child is checked against its DID and attached, all in one transaction (Rucio's
   * __add_files_to_dataset).
   */
  attach(
    parentScope: string,
    parentName: string,
    children: readonly FileSpec[],
    account: string,
    options: AttachOptions,
    scopeExists: (scope: string) => boolean,
  ): void {
    this.transaction(() => {
      const parent = this.getDid(parentScope, parentName);
      if (parent.did_type === 'FILE') throw rucioErrors.unsupported(`Data identifier '${parentScope}:${parentName}' is a file`);
      if (parent.is_open === 0) throw rucioErrors.closed(parentScope, parentName);
      // The file rows the registration below read or wrote: a batch of N files costs N lookups, not 2N.
      const registered = new Map<string, DidRow>();
      if (options.rse !== undefined) {
        // New files take the dataset's naming-convention metadata (Rucio's dataset_meta).
        const project = conventionProject(parentScope);
        const meta = project === null ? {} : { project };
        for (const child of children) {
          const row = this.ensureFileDid(child, account, scopeExists, meta);
          this.insertReplica(options.rse, child, row, 'A');
          registered.set(`${child.scope}:${child.name}`, row);
        }
      }
      // Make sure the size counter exists before the new rows, so they are counted exactly once.
      this.directSize(parentScope, parentName);
      const now = this.now();
      let addedLength = 0;
      let addedBytes = 0;
      const seen = new Set<string>();
      for (const child of children) {
        const row = registered.get(`${child.scope}:${child.name}`) ?? this.getDid(child.scope, child.name);
        const allowed = parent.did_type === 'DATASET' ? row.did_type === 'FILE' : row.did_type !== 'FILE';
        if (!allowed) {
          throw rucioErrors.unsupported(
            parent.did_type === 'DATASET'
              ? `Data identifier ${row.scope}:${row.name} of type DIDType.${row.did_type} cannot be added to a dataset `
              : `Adding a file (${row.scope}:${row.name}) to a container (${parentScope}:${parentName}) is forbidden`,
          );
        }
        if (row.did_type === 'FILE') this.checkConsistency(child, row);
        const key = `${row.scope}:${row.name}`;
        if (seen.has(key)) continue;
        seen.add(key);
        if (this.s.getContent.get(parentScope, parentName, row.scope, row.name) !== undefined) {
          if (options.ignoreDuplicate === true) continue;
          throw rucioErrors.fileAlreadyExists(duplicateContentMessage);
        }
        this.s.insertContent.run(parentScope, parentName, row.scope, row.name, row.did_type, row.bytes, row.adler32, row.md5, now);
        addedLength++;
        addedBytes += row.bytes ?? 0;
      }
      if (addedLength > 0) this.s.upsertContentSize.run(parentScope, parentName, addedLength, addedBytes);
    });
  }

  /** DELETE /dids/{s}/{n}/dids: detach children from a collection (Rucio's detach_dids). */
  detach(scope: string, name: string, children: readonly { scope: string; name: string }[]): void {
    this.transaction(() => {
      const parent = this.findDid(scope, name);
      if (parent === undefined || parent.did_type === 'FILE') throw rucioErrors.didNotFound(scope, name);
      if (this.directSize(scope, name).length === 0) {
        throw new RucioApiError(404, 'DataIdentifierNotFound', `Data identifier '${scope}:${name}' has no child data identifiers.`);
      }
      for (const child of children) {
        if (child.scope === scope && child.name === name) throw rucioErrors.unsupported('Self-detach is not valid.');
        const row = this.s.listContent.all(scope, name).find((c) => c.child_scope === child.scope && c.child_name === child.name);
        if (row === undefined) {
          throw new RucioApiError(404, 'DataIdentifierNotFound', `Data identifier '${child.scope}:${child.name}' not found under '${scope}:${name}'`);
        }
        this.s.deleteContent.run(scope, name, child.scope, child.name);
        this.s.shrinkContentSize.run(row.bytes ?? 0, scope, name);
        this.s.detachedFromDid.run(row.bytes ?? 0, scope, name);
      }
    });
  }

  /** The `lifetime` metadata key: expired_at = now + seconds, or none (Rucio's erase and its undo). */
  setLifetime(scope: string, name: string, seconds: number | null): void {
    this.getDid(scope, name);
    const now = this.now();
    this.s.setExpiry.run(seconds === null ? null : Date.now() + seconds * 1000, now, scope, name);
  }

  /** The children of a collection; none for a DID that does not exist (Rucio answers an empty list, not 404). */
  listContent(scope: string, name: string): ContentRow[] {
    return this.s.listContent.all(scope, name);
  }

  /** The collections a DID is attached to; none for a DID that does not exist (as in Rucio). */
  listParents(scope: string, name: string): { scope: string; name: string; did_type: DidType }[] {
    return this.s.listParents.all(scope, name);
  }

  /** All files below a DID (itself when it is a file), depth first. */
  resolveFiles(scope: string, name: string): DidRow[] {
    const root = this.getDid(scope, name);
    if (root.did_type === 'FILE') return [root];
    const out: DidRow[] = [];
    const seen = new Set<string>();
    const walk = (s: string, n: string): void => {
      // all(), not iterate(): the recursion re-enters this statement.
      for (const child of this.s.listContent.all(s, n)) {
        const key = `${child.child_scope}:${child.child_name}`;
        if (seen.has(key)) continue;
        seen.add(key);
        if (child.child_type === 'FILE') {
          const row = this.findDid(child.child_scope, child.child_name);
          if (row !== undefined) out.push(row);
        } else {
          walk(child.child_scope, child.child_name);
        }
      }
    };
    walk(scope, name);
    return out;
  }

  /** Datasets below a collection (itself when it is a dataset). */
  private resolveDatasets(root: DidRow): DidRow[] {
    if (root.did_type === 'DATASET') return [root];
    const out: DidRow[] = [];
    for (const child of this.s.listContent.all(root.scope, root.name)) {
      const row = this.findDid(child.child_scope, child.child_name);
      if (row !== undefined && row.did_type !== 'FILE') out.push(...this.resolveDatasets(row));
    }
    return out;
  }

  /**
   * Replica rows of the files behind `dids`, grouped per file in first-seen order. With
   * `updatedAfter`, only replicas whose updated_at is at or after it (cost: the new replicas).
   */
  listReplicaRows(dids: readonly { scope: string; name: string }[], updatedAfter: number | undefined): {
    file: { scope: string; name: string };
    parents: string[];
    replicas: ReplicaRow[];
    requestedFile: DidRow | undefined;
  }[] {
    const groups = new Map<string, { file: { scope: string; name: string }; parents: string[]; replicas: ReplicaRow[]; requestedFile: DidRow | undefined }>();
    const add = (row: ReplicaRow, parent: string | undefined): void => {
      const key = `${row.scope}:${row.name}`;
      let group = groups.get(key);
      if (group === undefined) {
        group = { file: { scope: row.scope, name: row.name }, parents: [], replicas: [], requestedFile: undefined };
        groups.set(key, group);
      }
      if (parent !== undefined && !group.parents.includes(parent)) group.parents.push(parent);
      if (!group.replicas.some((r) => r.rse === row.rse)) group.replicas.push(row);
    };
    for (const did of dids) {
      // A DID that does not exist contributes nothing: Rucio lists the others and answers 200.
      const row = this.findDid(did.scope, did.name);
      if (row === undefined) continue;
      if (row.did_type === 'FILE') {
        const key = `${row.scope}:${row.name}`;
        if (!groups.has(key)) groups.set(key, { file: { scope: row.scope, name: row.name }, parents: [], replicas: [], requestedFile: row });
        for (const replica of this.s.replicasOfFile.iterate(row.scope, row.name)) {
          if (updatedAfter === undefined || replica.updated_at >= updatedAfter) add(replica, undefined);
        }
        continue;
      }
      for (const dataset of this.resolveDatasets(row)) {
        const parent = `${dataset.scope}:${dataset.name}`;
        const rows =
          updatedAfter === undefined
            ? this.s.replicasOfDataset.iterate(dataset.scope, dataset.name)
            : this.s.replicasOfDatasetSince.iterate(updatedAfter, dataset.scope, dataset.name);
        for (const replica of rows) add(replica, parent);
      }
    }
    return [...groups.values()];
  }

  setOpen(scope: string, name: string, open: boolean): void {
    this.transaction(() => {
      const row = this.getDid(scope, name);
      if (row.did_type === 'FILE') throw rucioErrors.unsupported(`Data identifier '${scope}:${name}' is a file and has no open status`);
      const now = this.now();
      if (open) {
        this.s.reopenDid.run(now, scope, name);
      } else {
        const size = this.dynamicSize(scope, name);
        this.s.closeDid.run(size.length, size.bytes, now, now, scope, name);
      }
    });
  }

  /** Merges generic metadata into a DID (Rucio's JSON metadata plugin; DID columns are read-only here). */
  setMetadata(scope: string, name: string, values: Record<string, unknown>): void {
    this.transaction(() => {
      const row = this.getDid(scope, name);
      const current = row.meta === null ? {} : (JSON.parse(row.meta) as Record<string, unknown>);
      this.s.setMeta.run(JSON.stringify({ ...current, ...values }), this.now(), scope, name);
    });
  }

  searchDids(scope: string, createdFrom: number, createdTo: number): DidRow[] {
    // all(): callers look up sizes per row, which must not run inside an open iteration.
    return this.s.searchDids.all(scope, createdFrom, createdTo);
  }
}
