import type { AttachOptions, ContentRow, DidRow, DidType, FileSpec, ReplicaRow, ReplicaState } from './catalog-rows.js';
import { replicaStateNames } from './catalog-rows.js';
import { prepareCatalogStatements, type CatalogStatements } from './catalog-statements.js';
import type { Db } from './database.js';
import { RucioApiError, rucioErrors } from './rucio-error.js';
import { conventionProject, isValidName, isValidScope } from './names.js';

/**
 * What Rucio 1.31 answers, on SQLite, when a file is attached to a collection that already holds it:
 * the database's integrity error, as the message of FileAlreadyExists (the conformance suite checks it
 * against the real server).
 */
const duplicateContentMessage =
  "('(sqlite3.IntegrityError) UNIQUE constraint failed: contents.scope, contents.name, contents.child_scope, contents.child_name',)";

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
  private readonly s: CatalogStatements;
  readonly transaction: <T>(fn: () => T) => T;

  constructor(private readonly db: Db) {
    this.s = prepareCatalogStatements(db);
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
  resolveDatasets(root: DidRow): DidRow[] {
    if (root.did_type === 'DATASET') return [root];
    const out: DidRow[] = [];
    for (const child of this.s.listContent.all(root.scope, root.name)) {
      const row = this.findDid(child.child_scope, child.child_name);
      if (row !== undefined && row.did_type !== 'FILE') out.push(...this.resolveDatasets(row));
    }
    return out;
  }

  /** Replica rows of one file. */
  replicasOfFile(scope: string, name: string): IterableIterator<ReplicaRow> {
    return this.s.replicasOfFile.iterate(scope, name);
  }

  /** Replica rows of a dataset's files; with `updatedAfter`, only those updated at or after it (cost: the new replicas). */
  replicasOfDataset(scope: string, name: string, updatedAfter: number | undefined): IterableIterator<ReplicaRow> {
    return updatedAfter === undefined ? this.s.replicasOfDataset.iterate(scope, name) : this.s.replicasOfDatasetSince.iterate(updatedAfter, scope, name);
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

  /**
   * Runs what an upload's catalog call and a download's poll run (a dataset created, a file
   * registered on an RSE and attached to it, the dataset's replicas listed in full and since a
   * time) in one transaction that is rolled back: nothing of it stays, and SQLite's first steps of
   * these statements and V8's compilation of this code are paid before the first client. Without
   * it the first attach of a rehearsal took 2-5 ms longer than the second. True when it ran through.
   */
  warmUp(): boolean {
    const rolledBack = new Error('warm-up rolled back');
    const scope = 'wavefier-warm-up';
    const dataset = `warm-up-${Date.now()}`;
    // One zero byte, with its checksums.
    const file: FileSpec = { scope, name: `${dataset}.hdf5`, bytes: 1, adler32: '00010001', md5: '93b885adfe0da089cdf634904fd59f71', guid: '0'.repeat(32) };
    let listed = 0;
    try {
      this.transaction(() => {
        this.addCollection({ scope, name: dataset, type: 'DATASET', account: 'root', monotonic: false, meta: {}, scopeExists: true });
        this.attach(scope, dataset, [file], 'root', { rse: 'WARM_UP' }, () => true);
        this.dynamicSize(scope, dataset);
        listed = [...this.replicasOfDataset(scope, dataset, undefined), ...this.replicasOfDataset(scope, dataset, 0)].length;
        throw rolledBack;
      });
    } catch (error) {
      return error === rolledBack && listed === 2;
    }
    return false;
  }

  searchDids(scope: string, createdFrom: number, createdTo: number): DidRow[] {
    // all(): callers look up sizes per row, which must not run inside an open iteration.
    return this.s.searchDids.all(scope, createdFrom, createdTo);
  }
}
