import type { Route } from './context.js';
import { getRse } from './context.js';
import { sendJson, sendJsonStream, sendText } from './http-io.js';
import { resolveRseExpression } from './rse-expression.js';
import { rseInfoJson, rseListJson, pfnFor } from './rse.js';
import { rucioErrors } from './rucio-error.js';

/** RSEs (list, expressions, settings, attributes, protocols, lfns2pfns) and URL signing. */
export const rseRoutes: Route[] = [
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
    pattern: /^\/rses\/([^/]+)\/usage\/?$/,
    auth: 'token',
    // What a Rucio server without its abacus daemons reports: the `rucio` counter, at zero.
    handle: ({ res, params }, context) => {
      const rse = getRse(context, params[0] ?? '');
      sendJsonStream(res, [{ rse_id: rse.id, source: 'rucio', used: 0, free: null, total: 0, files: 0, updated_at: context.rseCreatedAt, rse: rse.name }]);
    },
  },
  {
    method: 'GET',
    pattern: /^\/rses\/([^/]+)\/limits\/?$/,
    auth: 'token',
    handle: ({ res, params }, context) => {
      getRse(context, params[0] ?? '');
      sendJson(res, {});
    },
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
      if (rse.kind === 'posix' || rse.kind === 'davs') throw rucioErrors.unsupported(`RSE '${rse.name}' has no S3 storage to sign URLs for`);
      sendText(res, 200, await context.storage.presign(rse, op, pfn, lifetime), 'text/plain; charset=utf-8');
    },
  },
];
