import type { LakeContext, Route } from './context.js';
import { getRse } from './context.js';
import { sendJsonStream, sendRaw } from './http-io.js';
import { RucioApiError } from './rucio-error.js';

/**
 * JSON as Python's json module writes it: an infinite quota is the bare token `Infinity`, which the
 * official client reads back as float('inf') (JSON.stringify would write null).
 */
function pythonJson(value: unknown): string {
  const marker = '\u0000Infinity\u0000';
  return JSON.stringify(value, (_key, item: unknown) => (item === Infinity ? marker : item)).replaceAll(JSON.stringify(marker), 'Infinity');
}

function sendPythonJson(res: Parameters<typeof sendRaw>[0], value: unknown): void {
  sendRaw(res, 200, 'application/json', pythonJson(value));
}

function sendPythonJsonStream(res: Parameters<typeof sendRaw>[0], items: readonly unknown[]): void {
  sendRaw(res, 200, 'application/x-json-stream', items.map((item) => `${pythonJson(item)}\n`).join(''));
}

/**
 * The lake enforces no quota: every account may use every RSE without limit, which is what its
 * accounts' limits say (a Rucio deployment set up for uploads gives its accounts such limits).
 */
function localLimits(context: LakeContext, account: string): Record<string, number> {
  if (!context.identity.listAccounts().some((row) => row.account === account)) return {};
  return Object.fromEntries(context.rses.map((rse) => [rse.name, Infinity]));
}

/**
 * Usage as a Rucio server without its abacus daemons reports it: the counters exist for every RSE
 * with a limit and stay at zero (the lake runs no daemons, like the real server of the conformance suite).
 */
function localUsage(context: LakeContext, account: string, rseName?: string): Record<string, unknown>[] {
  if (!context.identity.listAccounts().some((row) => row.account === account)) {
    throw new RucioApiError(404, 'AccountNotFound', `Account ${account} does not exist`);
  }
  const rses = rseName === undefined ? context.rses : [getRse(context, rseName)];
  return rses.map((rse) => ({ rse_id: rse.id, rse: rse.name, bytes: 0, files: 0, bytes_limit: Infinity, bytes_remaining: Infinity }));
}

/** Accounts: the list, limits, usage and rules (flaskapi v1 accounts.py). */
export const accountRoutes: Route[] = [
  {
    method: 'GET',
    pattern: /^\/accounts\/?$/,
    auth: 'token',
    handle: ({ res, url }, context) => {
      const type = url.searchParams.get('account_type')?.toUpperCase();
      const accounts = context.identity.listAccounts().filter((row) => type === undefined || row.account_type === type);
      sendJsonStream(res, accounts.map((row) => ({ account: row.account, type: row.account_type, email: row.email })));
    },
  },
  {
    method: 'GET',
    pattern: /^\/accounts\/([^/]+)\/limits\/local\/?$/,
    auth: 'token',
    handle: ({ res, params }, context) => sendPythonJson(res, localLimits(context, params[0] ?? '')),
  },
  {
    method: 'GET',
    pattern: /^\/accounts\/([^/]+)\/limits\/local\/([^/]+)\/?$/,
    auth: 'token',
    handle: ({ res, params }, context) => {
      const rse = getRse(context, params[1] ?? '');
      const limit = localLimits(context, params[0] ?? '')[rse.name];
      sendPythonJson(res, { [rse.name]: limit ?? null });
    },
  },
  {
    method: 'GET',
    pattern: /^\/accounts\/([^/]+)\/limits\/global\/?$/,
    auth: 'token',
    handle: ({ res }) => sendPythonJson(res, {}),
  },
  {
    method: 'GET',
    pattern: /^\/accounts\/([^/]+)\/usage\/local\/?$/,
    auth: 'token',
    handle: ({ res, params }, context) => sendPythonJsonStream(res, localUsage(context, params[0] ?? '')),
  },
  {
    method: 'GET',
    pattern: /^\/accounts\/([^/]+)\/usage\/local\/([^/]+)\/?$/,
    auth: 'token',
    handle: ({ res, params }, context) => sendPythonJsonStream(res, localUsage(context, params[0] ?? '', params[1] ?? '')),
  },
  {
    method: 'GET',
    pattern: /^\/accounts\/([^/]+)\/usage\/global\/?$/,
    auth: 'token',
    handle: ({ res }) => sendPythonJsonStream(res, []),
  },
  {
    method: 'GET',
    pattern: /^\/accounts\/([^/]+)\/rules\/?$/,
    auth: 'token',
    handle: ({ res, params }, context) => sendJsonStream(res, context.rules.listForAccount(params[0] ?? '')),
  },
];
