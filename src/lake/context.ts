import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Catalog } from './catalog.js';
import type { FaultController } from './faults.js';
import type { IdentityStore } from './identity-store.js';
import type { RseRuntime } from './rse.js';
import type { RuleStore } from './rule-store.js';
import { rucioErrors } from './rucio-error.js';

/** Storage operations the catalog needs: presigning (signurl) and the admin object tampering. */
export interface StorageOps {
  /**
   * `reuse`: the URL may be one signed up to a minute ago for the same object and lifetime, signed
   * for that much longer (listings, which sign every PFN at every poll); without it, exactly the
   * lifetime asked for (`signurl`).
   */
  presign(rse: RseRuntime, op: 'read' | 'write' | 'delete', pfn: string, lifetimeSeconds: number, options?: { reuse?: boolean }): Promise<string>;
  corruptObject(rse: RseRuntime, scope: string, name: string): Promise<void>;
  deleteObject(rse: RseRuntime, scope: string, name: string): Promise<void>;
}

/** Everything a route handler may use. */
export interface LakeContext {
  identity: IdentityStore;
  catalog: Catalog;
  rules: RuleStore;
  rses: readonly RseRuntime[];
  rseByName: ReadonlyMap<string, RseRuntime>;
  rseCreatedAt: string;
  tokenLifetimeMs: number;
  faults: FaultController;
  storage: StorageOps;
  adminToken: string;
}

export interface RouteRequest {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  /** Decoded path captures. */
  params: string[];
  /** The authenticated account ('' on unauthenticated routes). */
  account: string;
  body: () => Promise<Buffer>;
}

export interface Route {
  method: string;
  pattern: RegExp;
  auth: 'token' | 'none' | 'admin';
  handle(request: RouteRequest, context: LakeContext): void | Promise<void>;
}

export function getRse(context: LakeContext, name: string): RseRuntime {
  const rse = context.rseByName.get(name);
  if (rse === undefined) throw rucioErrors.rseNotFound(name);
  return rse;
}
