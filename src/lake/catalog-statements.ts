import type { Statement } from 'better-sqlite3';
import type { ContentRow, DidRow, DidType, ReplicaRow } from './catalog-rows.js';
import type { Db } from './database.js';

/** The SQL of the catalog, prepared once per database. */
export interface CatalogStatements {
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
}

export function prepareCatalogStatements(db: Db): CatalogStatements {
  // expired_at came after the first lakes: add it to a catalog that predates it.
  const columns = db.prepare<[], { name: string }>("SELECT name FROM pragma_table_info('dids')").all();
  if (!columns.some((column) => column.name === 'expired_at')) db.exec('ALTER TABLE dids ADD COLUMN expired_at REAL');
  const replicaColumns = 'r.scope, r.name, r.rse, r.bytes, r.adler32, r.md5, r.state, r.updated_at';
  return {
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
}
