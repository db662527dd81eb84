import type { LakeContext, RouteRequest } from './context.js';
import { getRse } from './context.js';
import { parseJson, parseJsonObject, sendCreated } from './http-io.js';
import { attachmentsSchema, attachSchema, parseOrInvalid, toFileSpec } from './request-schemas.js';
import { RucioApiError, rucioErrors } from './rucio-error.js';

export function scopeExists(context: LakeContext): (scope: string) => boolean {
  return (scope) => context.identity.hasScope(scope);
}

/** `POST /dids/{s}/{n}/dids`: attach children to one collection. */
export async function attach(request: RouteRequest, context: LakeContext): Promise<void> {
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

/** `POST /dids/attachments`: attach to several collections in one transaction. */
export async function bulkAttach(request: RouteRequest, context: LakeContext): Promise<void> {
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
