import type { Route, LakeContext, RouteRequest } from './context.js';
import { getRse } from './context.js';
import { conventionProject, type DidRow } from './catalog.js';
import { parseRucioDate, rfc1123 } from './dates.js';
import { parseJson, parseJsonObject, sendCreated, sendJson, sendJsonStream, sendText } from './http-io.js';
import { parsePythonLiteral } from './python-literal.js';
import {
  addDidSchema,
  attachmentsSchema,
  attachSchema,
  detachSchema,
  datasetRuleSchema,
  parseOrInvalid,
  statusSchema,
  toFileSpec,
} from './request-schemas.js';
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

/** `GET .../meta?plugin=DID_COLUMN` (transcript 08.1/08.2). */
function metaJson(row: DidRow): Record<string, unknown> {
  const isFile = row.did_type === 'FILE';
  const extra = row.meta === null ? {} : (JSON.parse(row.meta) as Record<string, unknown>);
  return {
    scope: row.scope,
    name: row.name,
    account: row.account,
    did_type: row.did_type,
    is_open: isFile ? null : row.is_open === 1,
    monotonic: row.monotonic === 1,
    hidden: false,
    obsolete: false,
    complete: null,
    is_new: true,
    availability: 'AVAILABLE',
    suppressed: false,
    bytes: row.bytes,
    length: row.length,
    md5: row.md5,
    adler32: row.adler32,
    expired_at: row.expired_at === null ? null : rfc1123(row.expired_at),
    purge_replicas: true,
    deleted_at: null,
    // Closing a collection sums its files' events (none here) into the column: 0 from then on.
    events: !isFile && row.length !== null ? 0 : null,
    guid: row.guid,
    project: isFile ? null : conventionProject(row.scope),
    datatype: null,
    run_number: null,
    stream_name: null,
    prod_step: null,
    version: null,
    campaign: null,
    task_id: null,
    panda_id: null,
    lumiblocknr: null,
    provenance: null,
    phys_group: null,
    transient: false,
    accessed_at: null,
    closed_at: row.closed_at === null ? null : rfc1123(row.closed_at),
    eol_at: null,
    is_archive: null,
    constituent: null,
    access_cnt: null,
    ...extra,
    created_at: rfc1123(row.created_at),
    updated_at: rfc1123(row.updated_at),
  };
}

function scopeExists(context: LakeContext): (scope: string) => boolean {
  return (scope) => context.identity.hasScope(scope);
}

/**
 * Metadata keys as Rucio's default plugin (DID_COLUMN) manages them: the settable columns of the
 * dids table, plus `lifetime` (sets expired_at). Without the JSON plugin (not on a default server,
 * nor on SQLite) any other key is refused.
 */
const columnKeys = new Set([
  'access_cnt', 'accessed_at', 'campaign', 'closed_at', 'constituent', 'datatype', 'deleted_at', 'eol_at', 'events',
  'expired_at', 'hidden', 'is_archive', 'is_new', 'lumiblocknr', 'panda_id', 'phys_group', 'prod_step', 'project',
  'provenance', 'purge_replicas', 'run_number', 'stream_name', 'task_id', 'transient', 'version',
]);
/** Columns Rucio lets a client change but the lake does not: the size, checksums and identity of a DID are fixed here. */
const fixedColumns = new Set(['name', 'bytes', 'length', 'md5', 'adler32', 'guid']);

function setMetadata(context: LakeContext, scope: string, name: string, values: Record<string, unknown>, form: 'one' | 'bulk'): void {
  context.catalog.getDid(scope, name);
  const unmanaged = Object.keys(values).filter((key) => key !== 'lifetime' && !columnKeys.has(key) && !fixedColumns.has(key));
  if (unmanaged.length > 0) {
    throw new RucioApiError(
      400,
      'InvalidMetadata',
      form === 'one'
        ? `No plugin manages metadata key ${unmanaged[0] ?? ''} for DID ${scope}:${name}`
        : `No plugin manages metadata keys [${unmanaged.map((key) => `'${key}'`).join(', ')}] on DID ${scope}:${name}`,
    );
  }
  const fixed = Object.keys(values).filter((key) => fixedColumns.has(key));
  if (fixed.length > 0) throw new RucioApiError(400, 'InvalidMetadata', `the embedded lake does not change ${fixed.join(', ')} of a DID: register a new one`);
  const { lifetime, ...rest } = values;
  if ('lifetime' in values) {
    const seconds = lifetime === null ? null : Number(lifetime);
    if (seconds !== null && !Number.isFinite(seconds)) throw rucioErrors.invalidValueForKey(`lifetime '${String(lifetime)}' is not a number of seconds`);
    context.catalog.setLifetime(scope, name, seconds);
  }
  if (Object.keys(rest).length > 0) context.catalog.setMetadata(scope, name, rest);
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

async function attach(request: RouteRequest, context: LakeContext): Promise<void> {
  const [scope = '', name = ''] = request.params;
  const body = parseOrInvalid(attachSchema, parseJsonObject(await request.body()), 'dids');
  const rse = body.rse ?? undefined;
  const children = body.dids.map(toFileSpec);
  // Rucio looks the collection up before the RSE: an unknown dataset is a 404 DataIdentifierNotFound.
  context.catalog.getDid(scope, name);
  if (rse !== undefined) getRse(context, rse);
  context.catalog.attach(scope, name, children, request.account, { rse }, scopeExists(context));
  sendCreated(request.res);
}

async function bulkAttach(request: RouteRequest, context: LakeContext): Promise<void> {
  const raw = parseJson(await request.body());
  if (typeof raw !== 'object' || raw === null) throw rucioErrors.invalidObject('Problem validating attachments: body must be a list or an object');
  const body = parseOrInvalid(attachmentsSchema, raw, 'attachments');
  const attachments = Array.isArray(body) ? body : body.attachments;
  const ignoreDuplicate = Array.isArray(body) ? false : body.ignore_duplicate === true;
  const prepared = attachments.map((attachment) => {
    const rse = attachment.rse ?? undefined;
    if (rse !== undefined) getRse(context, rse);
    return { scope: attachment.scope, name: attachment.name, rse, children: attachment.dids.map(toFileSpec) };
  });
  try {
    context.catalog.transaction(() => {
      for (const item of prepared) {
        context.catalog.attach(item.scope, item.name, item.children, request.account, { rse: item.rse, ignoreDuplicate }, scopeExists(context));
      }
    });
  } catch (error) {
    // The bulk endpoint answers 412 for a consistency mismatch (flaskapi v1 dids.py Attachments).
    if (error instanceof RucioApiError && error.exceptionClass === 'FileConsistencyMismatch') {
      throw new RucioApiError(412, error.exceptionClass, error.message);
    }
    throw error;
  }
  sendCreated(request.res);
}

interface SearchFilter {
  /** `type` inside a filter overrides the request's for that OR group (did_column_meta.list_dids). */
  type?: string;
  name?: string;
  createdFrom: number;
  createdTo: number;
  length?: { op: 'eq' | 'gt' | 'lt' | 'gte' | 'lte'; value: number }[];
}

function parseSearchFilters(url: URL): SearchFilter[] {
  const filtersText = url.searchParams.get('filters');
  let raw: Record<string, unknown>[];
  if (filtersText !== null) {
    let parsed: unknown;
    try {
      parsed = parsePythonLiteral(filtersText);
    } catch {
      throw new RucioApiError(400, 'ValueError', `malformed filters: ${filtersText.slice(0, 200)}`);
    }
    const list = Array.isArray(parsed) ? parsed : [parsed];
    raw = list.map((item) => {
      if (typeof item !== 'object' || item === null || Array.isArray(item)) throw new RucioApiError(400, 'ValueError', 'filters must be a list of dictionaries');
      return item as Record<string, unknown>;
    });
  } else {
    const flat: Record<string, unknown> = {};
    for (const [key, value] of url.searchParams) {
      if (!['type', 'limit', 'long', 'recursive'].includes(key)) flat[key] = value;
    }
    raw = [flat];
  }
  return raw.map((filter) => {
    const out: SearchFilter = { createdFrom: -Infinity, createdTo: Infinity };
    for (const [key, value] of Object.entries(filter)) {
      if (key === 'name') {
        out.name = String(value);
        continue;
      }
      const date = (): number => {
        const ms = parseRucioDate(value);
        if (ms === undefined) throw new RucioApiError(400, 'ValueError', `${key}: '${String(value)}' is not a date (use YYYY-MM-DDTHH:MM:SS, UTC)`);
        return ms;
      };
      if (key === 'created_after' || key === 'created_at.gte' || key === 'created_at.gt') out.createdFrom = Math.max(out.createdFrom, date());
      else if (key === 'created_before' || key === 'created_at.lte' || key === 'created_at.lt') out.createdTo = Math.min(out.createdTo, date());
      else if (key === 'length' || key.startsWith('length.')) {
        const op = key === 'length' ? 'eq' : key.slice('length.'.length);
        const number = Number(value);
        if (!['eq', 'gt', 'lt', 'gte', 'lte'].includes(op) || !Number.isFinite(number)) throw new RucioApiError(400, 'ValueError', `unsupported filter ${key}=${String(value)}`);
        (out.length ??= []).push({ op: op as 'eq', value: number });
      } else if (key === 'type') {
        out.type = String(value).toLowerCase();
      } else if (key === 'did_type') {
        continue;
      } else {
        throw new RucioApiError(404, 'KeyNotFound', `Key '${key}' is not a filterable DID attribute in this lake (name, created_after, created_before, length)`);
      }
    }
    return out;
  });
}

function wildcard(pattern: string): RegExp {
  return new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*')}$`);
}

function search(request: RouteRequest, context: LakeContext): void {
  const scope = request.params[0] ?? '';
  const url = request.url;
  const requestType = (url.searchParams.get('type') ?? 'collection').toLowerCase();
  const types: Record<string, string[]> = {
    all: ['FILE', 'DATASET', 'CONTAINER'],
    collection: ['DATASET', 'CONTAINER'],
    dataset: ['DATASET'],
    container: ['CONTAINER'],
    file: ['FILE'],
  };
  const typesOf = (type: string): string[] => {
    const wanted = types[type];
    if (wanted === undefined) throw rucioErrors.unsupported(`${type} is not a valid type. Valid types are dict_keys(['all', 'collection', 'container', 'dataset', 'file'])`);
    return wanted;
  };
  const long = ['True', '1', 'true'].includes(url.searchParams.get('long') ?? '');
  const limitText = url.searchParams.get('limit');
  const limit = limitText === null ? Infinity : Number(limitText);
  const filters = parseSearchFilters(url).map((filter) => ({
    ...filter,
    wanted: typesOf(filter.type ?? requestType),
    regex: filter.name === undefined ? undefined : wildcard(filter.name),
  }));
  const out: unknown[] = [];
  const seen = new Set<string>();
  for (const filter of filters) {
    for (const row of context.catalog.searchDids(scope, filter.createdFrom, filter.createdTo)) {
      if (out.length >= limit) break;
      if (!filter.wanted.includes(row.did_type)) continue;
      if (filter.regex !== undefined && !filter.regex.test(row.name)) continue;
      if (filter.length !== undefined) {
        const length = row.did_type === 'FILE' ? 1 : (row.length ?? context.catalog.dynamicSize(row.scope, row.name).length);
        const ok = filter.length.every(({ op, value }) =>
          op === 'eq' ? length === value : op === 'gt' ? length > value : op === 'lt' ? length < value : op === 'gte' ? length >= value : length <= value,
        );
        if (!ok) continue;
      }
      if (seen.has(row.name)) continue;
      seen.add(row.name);
      out.push(
        long
          ? { scope: row.scope, name: row.name, did_type: `DIDType.${row.did_type}`, bytes: row.bytes, length: row.did_type === 'FILE' ? 1 : row.length }
          : row.name,
      );
    }
  }
  sendJsonStream(request.res, out);
}

/** The DID namespace: `/dids/{scope}/{name}[/suffix]`, with names that may contain encoded slashes. */
export const didRoutes: Route[] = [
  { method: 'GET', pattern: /^\/dids\/([^/]+)\/dids\/search\/?$/, auth: 'token', handle: search },
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
