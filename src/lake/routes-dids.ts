import type { Route, LakeContext, RouteRequest } from './context.js';
import { getRse } from './context.js';
import type { DidRow } from './catalog-rows.js';
import { rfc1123 } from './dates.js';
import { attach, bulkAttach, scopeExists } from './did-attachments.js';
import { metaJson, setMetadata } from './did-metadata.js';
import { searchDids } from './did-search.js';
import { parseJsonObject, sendCreated, sendJson, sendJsonStream, sendText } from './http-io.js';
import { addDidSchema, detachSchema, datasetRuleSchema, parseOrInvalid, statusSchema, toFileSpec } from './request-schemas.js';
import { resolveRseExpression } from './rse-expression.js';
import { RucioApiError, rucioErrors, withStatus } from './rucio-error.js';

const didTypes: Record<string, 'DATASET' | 'CONTAINER' | undefined> = {
  DATASET: 'DATASET',
  D: 'DATASET',
  CONTAINER: 'CONTAINER',
  C: 'CONTAINER',
};

/**
 * `GET /dids/{s}/{n}` (core/did.py get_did): length and bytes are the columns (null for an open
 * dataset), counted now only for a dataset at depth FILE or a container at depth FILE or DATASET.
 */
function didJson(row: DidRow, context: LakeContext, depth: 'FILE' | 'DATASET' | undefined): Record<string, unknown> {
  if (row.did_type === 'FILE') {
    return { scope: row.scope, name: row.name, type: 'FILE', account: row.account, bytes: row.bytes, length: 1, md5: row.md5, adler32: row.adler32 };
  }
  const counted =
    (row.did_type === 'DATASET' && depth === 'FILE') || (row.did_type === 'CONTAINER' && depth !== undefined)
      ? depth === 'FILE'
        ? context.catalog.dynamicSize(row.scope, row.name)
        : context.catalog.datasetColumnsSum(row.scope, row.name)
      : { length: row.length, bytes: row.bytes };
  return {
    scope: row.scope,
    name: row.name,
    type: row.did_type,
    account: row.account,
    open: row.is_open === 1,
    monotonic: row.monotonic === 1,
    expired_at: row.expired_at === null ? null : rfc1123(row.expired_at),
    length: counted.length,
    bytes: counted.bytes,
  };
}

async function addDid(request: RouteRequest, context: LakeContext): Promise<void> {
  const [scope = '', name = ''] = request.params;
  const body = parseOrInvalid(addDidSchema, parseJsonObject(await request.body()), 'did');
  const type = didTypes[body.type.toUpperCase()];
  if (type === undefined) throw rucioErrors.invalidObject(`Problem validating type: '${body.type}' is not DATASET or CONTAINER`);
  const rules = (body.rules ?? []).map((rule) => parseOrInvalid(datasetRuleSchema, rule, 'rules'));
  // Uncaught by the DIDs view: a bad expression in a dataset's rules is a 500 there.
  for (const rule of rules) withStatus(500, 'InvalidRSEExpression', () => resolveRseExpression(rule.rse_expression, context.rses));
  const rse = body.rse ?? undefined;
  if (rse !== undefined) getRse(context, rse);
  const children = (body.dids ?? []).map(toFileSpec);
  context.catalog.transaction(() => {
    context.catalog.addCollection({
      scope,
      name,
      type,
      account: request.account,
      monotonic: body.statuses?.monotonic === true,
      meta: body.meta ?? {},
      scopeExists: context.identity.hasScope(scope),
    });
    // core/did.py add_dids: a lifetime (seconds) sets expired_at; 0 or none leaves the DID without one.
    if (body.lifetime !== undefined && body.lifetime !== null && body.lifetime !== 0) context.catalog.setLifetime(scope, name, body.lifetime);
    for (const rule of rules) {
      context.rules.add({
        account: rule.account ?? request.account,
        scope,
        name,
        didType: type,
        rseExpression: rule.rse_expression,
        copies: rule.copies,
        grouping: rule.grouping ?? 'DATASET',
        lifetimeSeconds: rule.lifetime ?? null,
        // Rules made with a DID get the model's default activity; POST /rules/ the API's 'User Subscriptions'.
        options: { ...rule, activity: typeof rule.activity === 'string' ? rule.activity : 'default' },
      });
    }
    if (children.length > 0) {
      context.catalog.attach(scope, name, children, request.account, { rse }, scopeExists(context));
    }
  });
  sendCreated(request.res);
}

/** The DID namespace: `/dids/{scope}/{name}[/suffix]`, with names that may contain encoded slashes. */
export const didRoutes: Route[] = [
  { method: 'GET', pattern: /^\/dids\/([^/]+)\/dids\/search\/?$/, auth: 'token', handle: searchDids },
  { method: 'POST', pattern: /^\/dids\/attachments\/?$/, auth: 'token', handle: bulkAttach },
  {
    method: 'GET',
    pattern: /^\/dids\/([^/]+)\/(.+?)\/dids\/?$/,
    auth: 'token',
    handle: ({ res, params }, context) => {
      const rows = context.catalog.listContent(params[0] ?? '', params[1] ?? '');
      sendJsonStream(
        res,
        rows.map((row) => ({ scope: row.child_scope, name: row.child_name, type: row.child_type, bytes: row.bytes, adler32: row.adler32, md5: row.md5 })),
      );
    },
  },
  { method: 'POST', pattern: /^\/dids\/([^/]+)\/(.+?)\/dids\/?$/, auth: 'token', handle: attach },
  {
    method: 'DELETE',
    pattern: /^\/dids\/([^/]+)\/(.+?)\/dids\/?$/,
    auth: 'token',
    handle: async ({ res, params, body }, context) => {
      const raw = parseOrInvalid(detachSchema, parseJsonObject(await body()), 'dids');
      context.catalog.detach(params[0] ?? '', params[1] ?? '', raw.dids);
      sendText(res, 200, '');
    },
  },
  {
    method: 'GET',
    pattern: /^\/dids\/([^/]+)\/(.+?)\/files\/?$/,
    auth: 'token',
    handle: ({ res, params }, context) => {
      const files = context.catalog.resolveFiles(params[0] ?? '', params[1] ?? '');
      sendJsonStream(
        res,
        files.map((row) => ({ scope: row.scope, name: row.name, bytes: row.bytes, adler32: row.adler32, guid: row.guid?.toUpperCase() ?? null, events: null })),
      );
    },
  },
  {
    method: 'GET',
    pattern: /^\/dids\/([^/]+)\/(.+?)\/meta\/?$/,
    auth: 'token',
    handle: ({ res, params, url }, context) => {
      const plugin = url.searchParams.get('plugin') ?? 'DID_COLUMN';
      if (!['DID_COLUMN', 'JSON', 'ALL'].includes(plugin)) throw new RucioApiError(400, 'UnsupportedMetadataPlugin', `Metadata plugin '${plugin}' is not supported`);
      const row = context.catalog.getDid(params[0] ?? '', params[1] ?? '');
      if (plugin === 'JSON') {
        sendJson(res, row.meta === null ? {} : (JSON.parse(row.meta) as unknown));
        return;
      }
      sendJson(res, metaJson(row));
    },
  },
  {
    method: 'POST',
    pattern: /^\/dids\/([^/]+)\/(.+?)\/meta\/([^/]+)\/?$/,
    auth: 'token',
    handle: async ({ res, params, body }, context) => {
      const [scope = '', name = '', key = ''] = params;
      const raw = parseJsonObject(await body());
      if (!('value' in raw)) throw rucioErrors.missingKey('value');
      setMetadata(context, scope, name, { [key]: raw.value }, 'one');
      sendCreated(res);
    },
  },
  {
    method: 'POST',
    pattern: /^\/dids\/([^/]+)\/(.+?)\/meta\/?$/,
    auth: 'token',
    handle: async ({ res, params, body }, context) => {
      const raw = parseJsonObject(await body());
      const meta = raw.meta;
      if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) throw rucioErrors.missingKey('meta');
      setMetadata(context, params[0] ?? '', params[1] ?? '', meta as Record<string, unknown>, 'bulk');
      sendCreated(res);
    },
  },
  {
    method: 'PUT',
    pattern: /^\/dids\/([^/]+)\/(.+?)\/status\/?$/,
    auth: 'token',
    handle: async ({ res, params, body }, context) => {
      const raw = parseJsonObject(await body());
      const keys = Object.keys(raw).filter((key) => key !== 'open');
      if (keys.length > 0) throw new RucioApiError(409, 'UnsupportedStatus', `The status ${keys.join(', ')} is not a valid data identifier status.`);
      const status = parseOrInvalid(statusSchema, raw, 'status');
      context.catalog.setOpen(params[0] ?? '', params[1] ?? '', status.open);
      sendText(res, 200, '');
    },
  },
  {
    method: 'GET',
    pattern: /^\/dids\/([^/]+)\/(.+?)\/rules\/?$/,
    auth: 'token',
    // A DID that does not exist has no rules: 200 and an empty list, as in Rucio.
    handle: ({ res, params }, context) => sendJsonStream(res, context.rules.listForDid(params[0] ?? '', params[1] ?? '')),
  },
  {
    method: 'GET',
    pattern: /^\/dids\/([^/]+)\/(.+?)\/parents\/?$/,
    auth: 'token',
    handle: ({ res, params }, context) => {
      const rows = context.catalog.listParents(params[0] ?? '', params[1] ?? '');
      sendJsonStream(res, rows.map((row) => ({ scope: row.scope, name: row.name, type: row.did_type })));
    },
  },
  {
    method: 'GET',
    pattern: /^\/dids\/([^/]+)\/(.+)$/,
    auth: 'token',
    handle: ({ res, params, url }, context) => {
      const row = context.catalog.getDid(params[0] ?? '', params[1] ?? '');
      const asked = url.searchParams.get('dynamic_depth')?.toUpperCase();
      const depth = asked === 'FILE' || asked === 'DATASET' ? asked : asked === undefined && url.searchParams.has('dynamic') ? 'FILE' : undefined;
      sendJson(res, didJson(row, context, depth));
    },
  },
  { method: 'POST', pattern: /^\/dids\/([^/]+)\/(.+)$/, auth: 'token', handle: addDid },
];
