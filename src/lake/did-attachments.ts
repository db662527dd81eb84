import type { LakeContext, RouteRequest } from './context.js';
import { getRse } from './context.js';
import { parseJson, parseJsonObject, sendCreated } from './http-io.js';
import { attachmentsSchema, attachSchema, parseOrInvalid, toFileSpec } from './request-schemas.js';
import { RucioApiError, rucioErrors } from './rucio-error.js';

export function scopeExists(context: LakeContext): (scope: string) => boolean {
  return (scope) => context.identity.hasScope(scope);
}

/**
 * Rucio checks an attachment against its JSON schema (api/did.py `validate_schema`) before it looks
 * anything up, and neither attach view (flaskapi v1 dids.py Attachment, Attachments) catches the
 * InvalidObject this raises: a request it cannot take (no DIDs, a malformed name or checksum) is a
 * 500 with that class, where most other views answer 400.
 */
function schemaChecked<T>(check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (error instanceof RucioApiError && error.exceptionClass === 'InvalidObject') throw new RucioApiError(500, error.exceptionClass, error.message);
    throw error;
  }
}

/** The first line of Rucio's message (the rest is jsonschema's dump of the schema). */
const tooFewDids = (schema: 'attachment' | 'attachments'): RucioApiError => rucioErrors.invalidObject(`Problem validating ${schema} : [] is too short`);

/** `POST /dids/{s}/{n}/dids`: attach children to one collection. */
export async function attach(request: RouteRequest, context: LakeContext): Promise<void> {
  const [scope = '', name = ''] = request.params;
  const raw = parseJsonObject(await request.body());
  const { body, children } = schemaChecked(() => {
    const parsed = parseOrInvalid(attachSchema, raw, 'dids');
    if (parsed.dids.length === 0) throw tooFewDids('attachment');
    return { body: parsed, children: parsed.dids.map(toFileSpec) };
  });
  const rse = body.rse ?? undefined;
  // Rucio looks the collection up before the RSE: an unknown dataset is a 404 DataIdentifierNotFound.
  context.catalog.getDid(scope, name);
  if (rse !== undefined) getRse(context, rse);
  context.catalog.attach(scope, name, children, request.account, { rse }, scopeExists(context));
  sendCreated(request.res);
}

/** `POST /dids/attachments`: attach to several collections in one transaction. */
export async function bulkAttach(request: RouteRequest, context: LakeContext): Promise<void> {
  const raw = parseJson(await request.body());
  if (typeof raw !== 'object' || raw === null) throw new RucioApiError(400, 'TypeError', 'body must be a json dictionary or list');
  if (!Array.isArray(raw) && !('attachments' in raw)) throw rucioErrors.missingKey('attachments');
  const { attachments, ignoreDuplicate } = schemaChecked(() => {
    const body = parseOrInvalid(attachmentsSchema, raw, 'attachments');
    const list = Array.isArray(body) ? body : body.attachments;
    // An empty list is no attachment at all, which Rucio's schema check lets through (201): an attachment without DIDs it refuses.
    if (list.some((attachment) => attachment.dids.length === 0)) throw tooFewDids('attachments');
    return {
      attachments: list.map((attachment) => ({ scope: attachment.scope, name: attachment.name, rse: attachment.rse ?? undefined, children: attachment.dids.map(toFileSpec) })),
      ignoreDuplicate: Array.isArray(body) ? false : body.ignore_duplicate === true,
    };
  });
  for (const attachment of attachments) if (attachment.rse !== undefined) getRse(context, attachment.rse);
  try {
    context.catalog.transaction(() => {
      for (const item of attachments) {
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
