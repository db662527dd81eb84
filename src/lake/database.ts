import { createHash } from 'node:crypto';
import { chmodSync, closeSync, openSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';

export type Db = Database.Database;

/**
 * The catalog schema. Times are epoch milliseconds (REAL, so sub-millisecond order is kept).
 * Indexes serve the hot paths: contents by parent (primary key), replicas by updated_at (the
 * `updated_after` poll), contents by child (parents, consistency checks).
 */
const schema = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS accounts (
  account TEXT PRIMARY KEY, account_type TEXT NOT NULL, status TEXT NOT NULL, email TEXT,
  created_at REAL NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS identities (
  identity TEXT NOT NULL, identity_type TEXT NOT NULL, account TEXT NOT NULL REFERENCES accounts(account),
  password_hash TEXT, salt TEXT, created_at REAL NOT NULL,
  PRIMARY KEY (identity, identity_type, account));
CREATE TABLE IF NOT EXISTS tokens (
  token TEXT PRIMARY KEY, account TEXT NOT NULL, identity TEXT NOT NULL, expires_at REAL NOT NULL, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS scopes (scope TEXT PRIMARY KEY, account TEXT NOT NULL, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS rses (rse TEXT PRIMARY KEY, id TEXT NOT NULL, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS dids (
  scope TEXT NOT NULL, name TEXT NOT NULL, did_type TEXT NOT NULL, account TEXT NOT NULL,
  bytes INTEGER, adler32 TEXT, md5 TEXT, guid TEXT, is_open INTEGER, monotonic INTEGER NOT NULL DEFAULT 0,
  length INTEGER, meta TEXT, created_at REAL NOT NULL, updated_at REAL NOT NULL, closed_at REAL,
  PRIMARY KEY (scope, name)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS dids_created ON dids (scope, created_at);
CREATE TABLE IF NOT EXISTS contents (
  scope TEXT NOT NULL, name TEXT NOT NULL, child_scope TEXT NOT NULL, child_name TEXT NOT NULL,
  child_type TEXT NOT NULL, bytes INTEGER, adler32 TEXT, md5 TEXT, created_at REAL NOT NULL,
  PRIMARY KEY (scope, name, child_scope, child_name)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS contents_child ON contents (child_scope, child_name);
CREATE TABLE IF NOT EXISTS content_sizes (
  scope TEXT NOT NULL, name TEXT NOT NULL, length INTEGER NOT NULL, bytes INTEGER NOT NULL,
  PRIMARY KEY (scope, name)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS replicas (
  scope TEXT NOT NULL, name TEXT NOT NULL, rse TEXT NOT NULL, bytes INTEGER NOT NULL, adler32 TEXT, md5 TEXT,
  state TEXT NOT NULL, created_at REAL NOT NULL, updated_at REAL NOT NULL,
  PRIMARY KEY (scope, name, rse)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS replicas_updated ON replicas (updated_at);
CREATE TABLE IF NOT EXISTS rules (
  id TEXT PRIMARY KEY, account TEXT NOT NULL, scope TEXT NOT NULL, name TEXT NOT NULL, did_type TEXT NOT NULL,
  rse_expression TEXT NOT NULL, copies INTEGER NOT NULL, grouping TEXT NOT NULL, expires_at REAL,
  options TEXT NOT NULL, created_at REAL NOT NULL, updated_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS rules_did ON rules (scope, name);
`;

/**
 * The database holds password hashes and live tokens: created 0600 before SQLite opens it, so its
 * -wal and -shm files (which SQLite creates with the database file's mode) are 0600 as well.
 * Files an older version left readable to others lose that access.
 */
function createPrivate(file: string): void {
  closeSync(openSync(file, 'a', 0o600));
  for (const path of [file, `${file}-wal`, `${file}-shm`, `${file}-journal`]) {
    let mode: number;
    try {
      mode = statSync(path).mode;
    } catch {
      continue;
    }
    if ((mode & 0o077) !== 0) chmodSync(path, 0o600);
  }
}

/** SHA-256 of a bearer token: the form the tokens table keeps (a copy of the database yields no usable token). */
export function tokenDigest(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Databases of older versions kept tokens in plain text: hashed in place, once (live tokens stay valid). */
function hashStoredTokens(db: Db): void {
  const done = db.prepare<[], { value: string }>("SELECT value FROM meta WHERE key = 'token_storage'").get();
  if (done?.value === 'sha256') return;
  db.function('wavefier_token_digest', { deterministic: true }, (token: unknown) => tokenDigest(String(token)));
  db.transaction(() => {
    db.exec('UPDATE tokens SET token = wavefier_token_digest(token)');
    db.exec("INSERT OR REPLACE INTO meta (key, value) VALUES ('token_storage', 'sha256')");
  })();
}

export function openDatabase(file: string): Db {
  createPrivate(file);
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  // NORMAL in WAL mode: durable across a process crash, a power loss may lose the last commits.
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  // better-sqlite3 builds SQLite with a 16 MB page cache per connection, which fills up as a run's
  // catalog grows (RSS rising for the whole run). The hot pages are few (the right edges of the
  // indexes that inserts and updated_after polls touch); a full listing reads the rest from the OS
  // page cache. 4 MB keeps the lake's memory flat.
  db.pragma('cache_size = -4000');
  db.exec(schema);
  hashStoredTokens(db);
  return db;
}
