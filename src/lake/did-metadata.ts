import type { LakeContext } from './context.js';
import type { DidRow } from './catalog-rows.js';
import { rfc1123 } from './dates.js';
import { conventionProject } from './names.js';
import { RucioApiError, rucioErrors } from './rucio-error.js';

/** `GET .../meta?plugin=DID_COLUMN` (transcript 08.1/08.2). */
export function metaJson(row: DidRow): Record<string, unknown> {
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

export function setMetadata(context: LakeContext, scope: string, name: string, values: Record<string, unknown>, form: 'one' | 'bulk'): void {
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
