import { z } from 'zod';
import type { Route } from './context.js';
import { getRse } from './context.js';
import { parseJsonObject, sendJson } from './http-io.js';
import { faultSpecSchema } from './faults.js';
import { RucioApiError } from './rucio-error.js';

const objectRef = z.object({ scope: z.string(), name: z.string(), rse: z.string() }).strict();

function invalid(error: z.ZodError): RucioApiError {
  const issue = error.issues[0];
  const where = issue === undefined || issue.path.length === 0 ? '' : ` at '${issue.path.join('.')}'`;
  return new RucioApiError(400, 'InvalidObject', `invalid fault spec${where}: ${issue?.message ?? 'invalid'}`);
}

/**
 * The lake's own admin API, outside Rucio's namespace (`/.lake/...`), protected by the admin token
 * of `<dir>/admin-token`: fault injection and tampering with stored objects, for other processes.
 */
export const adminRoutes: Route[] = [
  {
    method: 'GET',
    pattern: /^\/\.lake\/faults\/?$/,
    auth: 'admin',
    handle: ({ res }, context) => sendJson(res, { rules: context.faults.rules(), counters: context.faults.counters() }),
  },
  {
    method: 'POST',
    pattern: /^\/\.lake\/faults\/?$/,
    auth: 'admin',
    handle: async ({ res, body }, context) => {
      const parsed = faultSpecSchema.safeParse(parseJsonObject(await body()));
      if (!parsed.success) throw invalid(parsed.error);
      context.faults.set(parsed.data);
      sendJson(res, { rules: context.faults.rules(), counters: context.faults.counters() });
    },
  },
  {
    method: 'DELETE',
    pattern: /^\/\.lake\/faults\/?$/,
    auth: 'admin',
    handle: ({ res }, context) => {
      context.faults.clear();
      sendJson(res, { rules: context.faults.rules(), counters: context.faults.counters() });
    },
  },
  {
    method: 'POST',
    pattern: /^\/\.lake\/objects\/(corrupt|delete)\/?$/,
    auth: 'admin',
    handle: async ({ res, body, params }, context) => {
      const parsed = objectRef.safeParse(parseJsonObject(await body()));
      if (!parsed.success) throw invalid(parsed.error);
      const { scope, name, rse: rseName } = parsed.data;
      const rse = getRse(context, rseName);
      context.catalog.getDid(scope, name);
      if (params[0] === 'corrupt') {
        await context.storage.corruptObject(rse, scope, name);
        context.faults.noteObject('corrupted');
      } else {
        await context.storage.deleteObject(rse, scope, name);
        context.faults.noteObject('deleted');
      }
      sendJson(res, { ok: true, action: params[0], scope, name, rse: rse.name });
    },
  },
];
