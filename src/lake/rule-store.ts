import { randomBytes } from 'node:crypto';
import type { Statement } from 'better-sqlite3';
import type { Db } from './database.js';
import { rfc1123 } from './dates.js';
import { RucioApiError, rucioErrors } from './rucio-error.js';

/** A rule deleted through the API expires at most this long after (core/rule.py delete_rule, soft=True). */
const softDeleteGraceMs = 3_600_000;

export interface RuleInput {
  account: string;
  scope: string;
  name: string;
  didType: string;
  rseExpression: string;
  copies: number;
  grouping: string;
  lifetimeSeconds: number | null;
  options: Record<string, unknown>;
}

interface RuleRow {
  id: string;
  account: string;
  scope: string;
  name: string;
  did_type: string;
  rse_expression: string;
  copies: number;
  grouping: string;
  expires_at: number | null;
  options: string;
  created_at: number;
  updated_at: number;
}

/**
 * Replication rules are accepted and recorded, nothing more: the lake runs no transfer daemons, so a
 * rule is reported `OK` with zero locks, like a Rucio server without its judge (transcript quirk).
 */
export class RuleStore {
  private readonly insert: Statement<[string, string, string, string, string, string, number, string, number | null, string, number, number]>;
  private readonly byId: Statement<[string], RuleRow>;
  private readonly byDid: Statement<[string, string], RuleRow>;
  private readonly byAccount: Statement<[string], RuleRow>;
  private readonly setExpiry: Statement<[number, number, string]>;

  constructor(db: Db) {
    this.insert = db.prepare(
      `INSERT INTO rules (id, account, scope, name, did_type, rse_expression, copies, grouping, expires_at, options, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.byId = db.prepare('SELECT * FROM rules WHERE id = ?');
    this.byDid = db.prepare('SELECT * FROM rules WHERE scope = ? AND name = ? ORDER BY created_at');
    this.byAccount = db.prepare('SELECT * FROM rules WHERE account = ? ORDER BY created_at');
    this.setExpiry = db.prepare('UPDATE rules SET expires_at = ?, updated_at = ? WHERE id = ?');
  }

  add(input: RuleInput): string {
    const id = randomBytes(16).toString('hex');
    const now = Date.now();
    const expires = input.lifetimeSeconds === null ? null : now + input.lifetimeSeconds * 1000;
    this.insert.run(
      id, input.account, input.scope, input.name, input.didType, input.rseExpression, input.copies, input.grouping,
      expires, JSON.stringify(input.options), now, now,
    );
    return id;
  }

  /**
   * `DELETE /rules/{id}` as Rucio's API does it (core/rule.py delete_rule, soft): the rule stays, its
   * expiry brought to at most an hour away, for the judge-cleaner daemon to remove (none runs here).
   */
  softDelete(id: string): void {
    const row = this.byId.get(id);
    if (row === undefined) throw rucioErrors.ruleNotFound(id);
    if ((JSON.parse(row.options) as { locked?: unknown }).locked === true) {
      throw new RucioApiError(401, 'UnsupportedOperation', 'The replication rule is locked and has to be unlocked before it can be deleted.');
    }
    const now = Date.now();
    const soon = now + softDeleteGraceMs;
    this.setExpiry.run(row.expires_at === null ? soon : Math.min(soon, row.expires_at), now, id);
  }

  get(id: string): Record<string, unknown> {
    const row = this.byId.get(id);
    if (row === undefined) throw rucioErrors.ruleNotFound(id);
    return ruleJson(row);
  }

  listForDid(scope: string, name: string): Record<string, unknown>[] {
    return this.byDid.all(scope, name).map(ruleJson);
  }

  listForAccount(account: string): Record<string, unknown>[] {
    return this.byAccount.all(account).map(ruleJson);
  }
}

function ruleJson(row: RuleRow): Record<string, unknown> {
  const options = JSON.parse(row.options) as Record<string, unknown>;
  const pick = (key: string, fallback: unknown): unknown => options[key] ?? fallback;
  return {
    id: row.id,
    subscription_id: null,
    account: row.account,
    scope: row.scope,
    name: row.name,
    did_type: row.did_type,
    state: 'OK',
    error: null,
    rse_expression: row.rse_expression,
    copies: row.copies,
    expires_at: row.expires_at === null ? null : rfc1123(row.expires_at),
    weight: pick('weight', null),
    locked: pick('locked', false),
    locks_ok_cnt: 0,
    locks_replicating_cnt: 0,
    locks_stuck_cnt: 0,
    source_replica_expression: pick('source_replica_expression', null),
    activity: pick('activity', 'User Subscriptions'),
    grouping: row.grouping,
    notification: pick('notify', 'NO'),
    stuck_at: null,
    purge_replicas: pick('purge_replicas', false),
    ignore_availability: pick('ignore_availability', false),
    ignore_account_limit: false,
    priority: pick('priority', 3),
    comments: pick('comment', null),
    child_rule_id: null,
    eol_at: null,
    split_container: false,
    meta: pick('meta', null),
    created_at: rfc1123(row.created_at),
    updated_at: rfc1123(row.updated_at),
  };
}
