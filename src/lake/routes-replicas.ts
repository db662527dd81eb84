import type { LakeContext, Route, RouteRequest } from './context.js';
import { getRse } from './context.js';
import { replicaStateNames } from './catalog-rows.js';
import { listReplicaRows } from './replica-listing.js';
import { parseRucioDate } from './dates.js';
import { JsonStreamBody, parseJsonObject, sendCreated, sendJsonStream, sendRaw, sendText } from './http-io.js';
import { renderMetalink, type MetalinkFile } from './metalink.js';
import {
  listReplicasSchema,
  parseOrInvalid,
  replicaState,
  replicasSchema,
  ruleSchema,
  toFileSpec,
  updateReplicasSchema,
} from './request-schemas.js';
import { resolveRseExpression } from './rse-expression.js';
import { pfnFor, type RseRuntime } from './rse.js';
import { RucioApiError, rucioErrors, withStatus } from './rucio-error.js';

async function addReplicas(request: RouteRequest, context: LakeContext): Promise<void> {
  const body = parseOrInvalid(replicasSchema, parseJsonObject(await request.body()), 'replicas');
  const rse = getRse(context, body.rse);
  const files = body.files.map(toFileSpec);
  context.catalog.addReplicas(rse.name, files, request.account, (scope) => context.identity.hasScope(scope));
  sendCreated(request.res);
}

async function updateReplicas(request: RouteRequest, context: LakeContext): Promise<void> {
  const body = parseOrInvalid(updateReplicasSchema, parseJsonObject(await request.body()), 'replicas');
  const byRse = new Map<string, { scope: string; name: string; state: ReturnType<typeof replicaState> }[]>();
  for (const file of body.files) {
    const rseName = file.rse ?? body.rse;
    if (rseName === undefined) throw rucioErrors.missingKey('rse');
    const rse = getRse(context, rseName);
    const list = byRse.get(rse.name) ?? [];
    list.push({ scope: file.scope, name: file.name, state: replicaState(file.state) });
    byRse.set(rse.name, list);
  }
  context.catalog.transaction(() => {
    for (const [rse, files] of byRse) context.catalog.updateReplicaStates(rse, files);
  });
  sendText(request.res, 200, '');
}

async function listReplicas(request: RouteRequest, context: LakeContext): Promise<void> {
  const body = parseOrInvalid(listReplicasSchema, parseJsonObject(await request.body()), 'replicas list');
  let updatedAfter: number | undefined;
  if (body.updated_after !== undefined && body.updated_after !== null) {
    updatedAfter = parseRucioDate(body.updated_after);
    if (updatedAfter === undefined) {
      throw rucioErrors.invalidValueForKey(`updated_after '${String(body.updated_after)}' is not a date: use 'YYYY-MM-DDTHH:MM:SS[.ffffff]' (UTC) or epoch seconds`);
    }
  }
  const rseFilter =
    body.rse_expression === undefined || body.rse_expression === null
      ? undefined
      : new Set(resolveRseExpression(body.rse_expression, context.rses).map((rse) => rse.name));
  const schemes = body.schemes ?? undefined;
  const allStates = body.all_states === true;
  const resolveParents = body.resolve_parents === true;
  const signatureLifetime = body.signature_lifetime ?? 600;
  const accept = request.req.headers.accept ?? '';
  const metalink = accept.includes('application/metalink4+xml');

  const groups = listReplicaRows(context.catalog, body.dids, updatedAfter);
  // Each file goes out (or into the metalink list) as soon as it is built: no list of all of them.
  const jsonBody = metalink ? undefined : new JsonStreamBody();
  const metalinkFiles: MetalinkFile[] = [];
  for (const group of groups) {
    const pfns: Record<string, unknown> = {};
    const rses: Record<string, string[]> = {};
    const states: Record<string, string> = {};
    const urls: MetalinkFile['urls'] = [];
    let priority = 0;
    let bytes = group.requestedFile?.bytes ?? 0;
    let adler32 = group.requestedFile?.adler32 ?? null;
    let md5 = group.requestedFile?.md5 ?? null;
    for (const replica of group.replicas) {
      bytes = replica.bytes;
      adler32 = replica.adler32;
      md5 = replica.md5;
      if (!allStates && replica.state !== 'A') continue;
      const rse: RseRuntime | undefined = context.rseByName.get(replica.rse);
      if (rse === undefined) continue;
      if (rseFilter !== undefined && !rseFilter.has(rse.name)) continue;
      if (schemes !== undefined && !schemes.includes(rse.scheme)) continue;
      let pfn = pfnFor(rse, replica.scope, replica.name);
      // Like Rucio for https PFNs of a sign_url RSE, the listed URL is already signed for reading.
      if (rse.attributes.sign_url !== undefined && replica.state === 'A') {
        pfn = await context.storage.presign(rse, 'read', pfn, signatureLifetime, { reuse: true });
      }
      priority++;
      pfns[pfn] = { rse_id: rse.id, rse: rse.name, type: 'DISK', volatile: false, domain: 'wan', priority, client_extract: false };
      (rses[rse.name] ??= []).push(pfn);
      states[rse.name] = replicaStateNames[replica.state];
      urls.push({ rse: rse.name, domain: 'wan', priority, pfn });
    }
    // Files reached through a collection appear only when a replica qualifies; a file asked for by
    // name is always listed (with empty maps when it has no usable replica), as Rucio does.
    if (urls.length === 0 && group.requestedFile === undefined) continue;
    const parents = resolveParents ? group.parents : undefined;
    if (jsonBody === undefined) {
      metalinkFiles.push({ scope: group.file.scope, name: group.file.name, bytes, adler32, md5, parents, urls });
      continue;
    }
    const json: Record<string, unknown> = {
      scope: group.file.scope,
      name: group.file.name,
      bytes,
      md5,
      adler32,
      pfns,
      rses,
      states,
    };
    if (parents !== undefined) json.parents = parents;
    jsonBody.add(json);
  }
  if (jsonBody === undefined) {
    sendRaw(request.res, 200, 'application/metalink4+xml', renderMetalink(metalinkFiles));
    return;
  }
  jsonBody.send(request.res);
}

async function addRules(request: RouteRequest, context: LakeContext): Promise<void> {
  const body = parseOrInvalid(ruleSchema, parseJsonObject(await request.body()), 'rule');
  // The rules view answers a bad expression with 409 (flaskapi v1 rules.py).
  const targets = withStatus(409, 'InvalidRSEExpression', () => resolveRseExpression(body.rse_expression, context.rses));
  if (targets.length < body.copies) {
    throw new RucioApiError(409, 'InsufficientTargetRSEs', `There are not enough target RSEs to fulfil the request (${targets.length} < ${body.copies} copies)`);
  }
  const ids = context.catalog.transaction(() =>
    body.dids.map((did) => {
      const row = context.catalog.findDid(did.scope, did.name);
      if (row === undefined) throw new RucioApiError(404, 'DataIdentifierNotFound', `Data identifier ${did.scope}:${did.name} is not valid.`);
      return context.rules.add({
        account: body.account ?? request.account,
        scope: row.scope,
        name: row.name,
        didType: row.did_type,
        rseExpression: body.rse_expression,
        copies: body.copies,
        grouping: body.grouping ?? 'DATASET',
        lifetimeSeconds: body.lifetime ?? null,
        options: body,
      });
    }),
  );
  // Real Rucio answers this list with a text/html content type (transcript 03.7).
  sendRaw(request.res, 201, 'text/html; charset=utf-8', JSON.stringify(ids));
}

export const replicaRoutes: Route[] = [
  { method: 'POST', pattern: /^\/replicas\/list\/?$/, auth: 'token', handle: listReplicas },
  { method: 'POST', pattern: /^\/replicas\/?$/, auth: 'token', handle: addReplicas },
  { method: 'PUT', pattern: /^\/replicas\/?$/, auth: 'token', handle: updateReplicas },
  { method: 'POST', pattern: /^\/rules\/?$/, auth: 'token', handle: addRules },
  {
    method: 'DELETE',
    pattern: /^\/rules\/([^/]+)\/?$/,
    auth: 'token',
    handle: async ({ res, params, body, account }, context) => {
      await body();
      // The generic policy (permission.generic perm_del_rule): root or an admin account; the lake has no admin attribute.
      if (account !== 'root') throw rucioErrors.accessDenied(`Account ${account} can not remove this replication rule.`);
      context.rules.softDelete(params[0] ?? '');
      sendText(res, 200, '');
    },
  },
  {
    method: 'GET',
    pattern: /^\/rules\/([^/]+)\/?$/,
    auth: 'token',
    handle: ({ res, params }, context) => sendRaw(res, 200, 'application/json', JSON.stringify(context.rules.get(params[0] ?? ''))),
  },
  {
    method: 'GET',
    pattern: /^\/replicas\/([^/]+)\/(.+?)\/datasets\/?$/,
    auth: 'token',
    handle: ({ res, params }, context) => {
      const [scope = '', name = ''] = params;
      const row = context.catalog.getDid(scope, name);
      const contents = listReplicaRows(context.catalog, [{ scope, name }], undefined);
      const perRse = new Map<string, { available: number; bytes: number }>();
      for (const group of contents) {
        for (const replica of group.replicas) {
          const entry = perRse.get(replica.rse) ?? { available: 0, bytes: 0 };
          if (replica.state === 'A') {
            entry.available++;
            entry.bytes += replica.bytes;
          }
          perRse.set(replica.rse, entry);
        }
      }
      const length = row.did_type === 'FILE' ? 1 : context.catalog.dynamicSize(scope, name).length;
      sendJsonStream(
        res,
        [...perRse].map(([rse, entry]) => ({
          scope,
          name,
          rse,
          rse_id: context.rseByName.get(rse)?.id ?? null,
          length,
          available_length: entry.available,
          available_bytes: entry.bytes,
          state: entry.available === length ? 'AVAILABLE' : 'UNAVAILABLE',
        })),
      );
    },
  },
];
