import type { Route } from './context.js';
import { getRse } from './context.js';
import { rfc1123, isoSeconds } from './dates.js';
import { sendJson, sendJsonStream, sendRaw, sendText } from './http-io.js';
import { resolveRseExpression } from './rse-expression.js';
import { rseInfoJson, rseListJson, pfnFor } from './rse.js';
import { rucioErrors } from './rucio-error.js';

const exposeHeaders = 'X-Rucio-Auth-Token, X-Rucio-Auth-Account, X-Rucio-Auth-Accounts';

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** Ping, authentication, accounts, scopes and RSEs. */
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
      sendJson(res, {
        suspended_at: null,
        created_at: isoSeconds(row.created_at),
        account_type: row.account_type,
        status: row.status,
        email: row.email,
        account: row.account,
        deleted_at: null,
        updated_at: isoSeconds(row.updated_at),
      });
    },
  },
  {
    method: 'GET',
    pattern: /^\/scopes\/?$/,
    auth: 'token',
    handle: ({ res }, context) => sendJson(res, context.identity.listScopes()),
  },
  {
    method: 'GET',
    pattern: /^\/rses\/?$/,
    auth: 'token',
    handle: ({ res, url }, context) => {
      const expression = url.searchParams.get('expression');
      if (expression === null) {
        sendJsonStream(res, context.rses.map((rse) => rseListJson(rse, context.rseCreatedAt)));
        return;
      }
      sendJsonStream(res, resolveRseExpression(expression, context.rses).map((rse) => ({ rse: rse.name })));
    },
  },
  {
    method: 'GET',
    pattern: /^\/rses\/([^/]+)\/attr\/?$/,
    auth: 'token',
    handle: ({ res, params }, context) => sendJson(res, getRse(context, params[0] ?? '').attributes),
  },
  {
    method: 'GET',
    pattern: /^\/rses\/([^/]+)\/protocols\/?$/,
    auth: 'token',
    handle: ({ res, params }, context) => sendJson(res, rseInfoJson(getRse(context, params[0] ?? ''))),
  },
  {
    method: 'GET',
    pattern: /^\/rses\/([^/]+)\/lfns2pfns\/?$/,
    auth: 'token',
    handle: ({ res, params, url }, context) => {
      const rse = getRse(context, params[0] ?? '');
      const out: Record<string, string> = {};
      for (const lfn of url.searchParams.getAll('lfn')) {
        const colon = lfn.indexOf(':');
        if (colon <= 0) throw rucioErrors.invalidObject(`Problem validating lfn: '${lfn}' is not scope:name`);
        out[lfn] = pfnFor(rse, lfn.slice(0, colon), lfn.slice(colon + 1));
      }
      sendJson(res, out);
    },
  },
  {
    method: 'GET',
    pattern: /^\/rses\/([^/]+)\/?$/,
    auth: 'token',
    handle: ({ res, params }, context) => sendJson(res, rseInfoJson(getRse(context, params[0] ?? ''))),
  },
  {
    method: 'GET',
    pattern: /^\/credentials\/signurl\/?$/,
    auth: 'token',
    handle: async ({ res, url }, context) => {
      const rseName = url.searchParams.get('rse');
      const op = url.searchParams.get('op') ?? 'read';
      const pfn = url.searchParams.get('url');
      const lifetime = Number(url.searchParams.get('lifetime') ?? '600');
      if (rseName === null || pfn === null) throw rucioErrors.missingKey(rseName === null ? 'rse' : 'url');
      if (op !== 'read' && op !== 'write' && op !== 'delete') {
        throw rucioErrors.invalidValueForKey(`op must be one of read, write, delete, not '${op}'`);
      }
      if (!Number.isFinite(lifetime) || lifetime <= 0) throw rucioErrors.invalidValueForKey(`lifetime must be a positive number of seconds, not '${String(url.searchParams.get('lifetime'))}'`);
      const rse = getRse(context, rseName);
      if (rse.kind === 'posix') throw rucioErrors.unsupported(`RSE '${rse.name}' has no S3 storage to sign URLs for`);
      sendText(res, 200, await context.storage.presign(rse, op, pfn, lifetime), 'text/plain; charset=utf-8');
    },
  },
];
