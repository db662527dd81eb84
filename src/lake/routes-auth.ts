import type { Route } from './context.js';
import { rfc1123, isoSeconds } from './dates.js';
import { sendJson, sendRaw } from './http-io.js';
import { rucioErrors } from './rucio-error.js';

const exposeHeaders = 'X-Rucio-Auth-Token, X-Rucio-Auth-Account, X-Rucio-Auth-Accounts';

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** Ping, authentication, accounts and scopes. */
export const authRoutes: Route[] = [
  {
    method: 'GET',
    pattern: /^\/ping\/?$/,
    auth: 'none',
    handle: ({ res }) => sendJson(res, { version: '1.31.7' }),
  },
  {
    method: 'GET',
    pattern: /^\/auth\/userpass\/?$/,
    auth: 'none',
    handle: ({ req, res }, context) => {
      const username = header(req.headers['x-rucio-username']);
      const password = header(req.headers['x-rucio-password']);
      const account = header(req.headers['x-rucio-account']);
      if (username === undefined || password === undefined || username === '' || password === '') {
        throw rucioErrors.cannotAuthenticate('Cannot authenticate without passing all required arguments');
      }
      const owner = context.identity.authenticate(account === '' ? undefined : account, username, password);
      const token = context.identity.issueToken(owner, username, context.tokenLifetimeMs);
      sendRaw(res, 200, 'application/octet-stream', '', {
        'Access-Control-Expose-Headers': exposeHeaders,
        'X-Rucio-Auth-Account': owner,
        'X-Rucio-Auth-Token': token.token,
        'X-Rucio-Auth-Token-Expires': rfc1123(token.expiresAt),
      });
    },
  },
  {
    method: 'GET',
    pattern: /^\/auth\/validate\/?$/,
    auth: 'token',
    handle: ({ req, res }, context) => {
      const token = header(req.headers['x-rucio-auth-token']) ?? '';
      const info = context.identity.validateToken(token);
      if (info === undefined) throw rucioErrors.cannotAuthenticate('Cannot authenticate with given credentials');
      sendJson(res, { account: info.account, identity: info.identity, lifetime: rfc1123(info.expiresAt), audience: null, authz_scope: null });
    },
  },
  {
    method: 'GET',
    pattern: /^\/accounts\/whoami\/?$/,
    auth: 'token',
    handle: ({ res, account }) => {
      const target = encodeURIComponent(account);
      sendRaw(
        res,
        303,
        'text/html; charset=utf-8',
        '<!doctype html>\n<html lang=en>\n<title>Redirecting...</title>\n<h1>Redirecting...</h1>\n' +
          `<p>You should be redirected automatically to the target URL: <a href="${target}">${target}</a>. If not, click the link.\n`,
        { Location: target },
      );
    },
  },
  {
    method: 'GET',
    pattern: /^\/accounts\/([^/]+)\/scopes\/?$/,
    auth: 'token',
    handle: ({ res, params }, context) => sendJson(res, context.identity.listAccountScopes(params[0] ?? '')),
  },
  {
    method: 'GET',
    pattern: /^\/accounts\/([^/]+)\/?$/,
    auth: 'token',
    handle: ({ res, params }, context) => {
      const row = context.identity.getAccount(params[0] ?? '');
      // In Rucio's key order: `rucio whoami` prints the keys as they come.
      sendJson(res, {
        account_type: row.account_type,
        status: row.status,
        account: row.account,
        email: row.email,
        deleted_at: null,
        updated_at: isoSeconds(row.updated_at),
        suspended_at: null,
        created_at: isoSeconds(row.created_at),
      });
    },
  },
  {
    method: 'GET',
    pattern: /^\/scopes\/?$/,
    auth: 'token',
    handle: ({ res }, context) => sendJson(res, context.identity.listScopes()),
  },
];
