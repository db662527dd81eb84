import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Statement } from 'better-sqlite3';
import { tokenDigest, type Db } from './database.js';
import { rucioErrors } from './rucio-error.js';

export interface AccountRow {
  account: string;
  account_type: string;
  status: string;
  email: string | null;
  created_at: number;
  updated_at: number;
}

export interface TokenInfo {
  token: string;
  account: string;
  identity: string;
  expiresAt: number;
}

function hashPassword(password: string, salt: string): string {
  // Rucio stores sha256(password + salt) for userpass identities.
  return createHash('sha256').update(password + salt).digest('hex');
}

/** Accounts, userpass identities, scopes and auth tokens, persisted in the lake database. */
export class IdentityStore {
  private readonly tokenCache = new Map<string, TokenInfo>();
  private readonly statements: {
    getAccount: Statement<[string], AccountRow>;
    insertAccount: Statement<[string, string, number, number]>;
    identitiesFor: Statement<[string], { account: string; password_hash: string | null; salt: string | null }>;
    insertIdentity: Statement<[string, string, string, string, number]>;
    insertToken: Statement<[string, string, string, number, number]>;
    getToken: Statement<[string], { account: string; identity: string; expires_at: number }>;
    deleteExpiredTokens: Statement<[number]>;
    insertScope: Statement<[string, string, number]>;
    getScope: Statement<[string], { scope: string; account: string }>;
    listScopes: Statement<[], { scope: string }>;
    listAccountScopes: Statement<[string], { scope: string }>;
  };

  constructor(private readonly db: Db) {
    this.statements = {
      getAccount: db.prepare('SELECT * FROM accounts WHERE account = ?'),
      insertAccount: db.prepare(
        "INSERT OR IGNORE INTO accounts (account, account_type, status, created_at, updated_at) VALUES (?, ?, 'ACTIVE', ?, ?)",
      ),
      identitiesFor: db.prepare(
        "SELECT account, password_hash, salt FROM identities WHERE identity = ? AND identity_type = 'USERPASS'",
      ),
      insertIdentity: db.prepare(
        `INSERT INTO identities (identity, identity_type, account, password_hash, salt, created_at) VALUES (?, 'USERPASS', ?, ?, ?, ?)
         ON CONFLICT (identity, identity_type, account) DO UPDATE SET password_hash = excluded.password_hash, salt = excluded.salt`,
      ),
      insertToken: db.prepare('INSERT INTO tokens (token, account, identity, expires_at, created_at) VALUES (?, ?, ?, ?, ?)'),
      getToken: db.prepare('SELECT account, identity, expires_at FROM tokens WHERE token = ?'),
      deleteExpiredTokens: db.prepare('DELETE FROM tokens WHERE expires_at < ?'),
      insertScope: db.prepare('INSERT OR IGNORE INTO scopes (scope, account, created_at) VALUES (?, ?, ?)'),
      getScope: db.prepare('SELECT scope, account FROM scopes WHERE scope = ?'),
      listScopes: db.prepare('SELECT scope FROM scopes ORDER BY scope'),
      listAccountScopes: db.prepare('SELECT scope FROM scopes WHERE account = ? ORDER BY scope'),
    };
  }

  ensureAccount(account: string, type: string): void {
    const now = Date.now();
    this.statements.insertAccount.run(account, type, now, now);
  }

  /** Adds a userpass identity, or sets the password of an existing one (the configured one wins). */
  ensureUserpass(username: string, account: string, password: string): void {
    const salt = randomBytes(16).toString('hex');
    this.statements.insertIdentity.run(username, account, hashPassword(password, salt), salt, Date.now());
  }

  ensureScope(scope: string, account: string): void {
    this.statements.insertScope.run(scope, account, Date.now());
  }

  getAccount(account: string): AccountRow {
    const row = this.statements.getAccount.get(account);
    if (row === undefined) throw rucioErrors.accountNotFound(account);
    return row;
  }

  /** Every account, by name (Rucio's `GET /accounts/`). */
  listAccounts(): AccountRow[] {
    return this.db.prepare<[], AccountRow>('SELECT * FROM accounts ORDER BY account').all();
  }

  hasScope(scope: string): boolean {
    return this.statements.getScope.get(scope) !== undefined;
  }

  listScopes(): string[] {
    return this.statements.listScopes.all().map((row) => row.scope);
  }

  listAccountScopes(account: string): string[] {
    this.getAccount(account);
    return this.statements.listAccountScopes.all(account).map((row) => row.scope);
  }

  /** Checks a username/password pair (and the account when given); returns the account. */
  authenticate(account: string | undefined, username: string, password: string): string {
    const candidates = this.statements.identitiesFor.all(username).filter((row) => {
      if (row.password_hash === null || row.salt === null) return false;
      const expected = Buffer.from(row.password_hash, 'hex');
      const actual = Buffer.from(hashPassword(password, row.salt), 'hex');
      return expected.length === actual.length && timingSafeEqual(expected, actual);
    });
    const match = account === undefined ? candidates[0] : candidates.find((row) => row.account === account);
    if (match === undefined) throw rucioErrors.identityNotFound();
    return match.account;
  }

  issueToken(account: string, identity: string, lifetimeMs: number): TokenInfo {
    const now = Date.now();
    this.statements.deleteExpiredTokens.run(now - 3_600_000);
    const token = `${account}-${identity}-unknown-${randomBytes(16).toString('hex')}`;
    const info: TokenInfo = { token, account, identity, expiresAt: now + lifetimeMs };
    // Only the digest is stored: whoever reads the database file gets no usable token.
    this.statements.insertToken.run(tokenDigest(token), account, identity, info.expiresAt, now);
    this.remember(info);
    return info;
  }

  private remember(info: TokenInfo): void {
    // Bounded: the database is the truth, the cache only spares a lookup per request.
    if (this.tokenCache.size >= 10_000) this.tokenCache.clear();
    this.tokenCache.set(info.token, info);
  }

  /** The token's owner if the token exists and has not expired. */
  validateToken(token: string): TokenInfo | undefined {
    let info = this.tokenCache.get(token);
    if (info === undefined) {
      const row = this.statements.getToken.get(tokenDigest(token));
      if (row === undefined) return undefined;
      info = { token, account: row.account, identity: row.identity, expiresAt: row.expires_at };
      this.remember(info);
    }
    if (info.expiresAt <= Date.now()) {
      this.tokenCache.delete(token);
      return undefined;
    }
    return info;
  }
}
