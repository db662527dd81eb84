import { z } from 'zod';
import { rucioErrors } from './rucio-error.js';
import { adler32Pattern, guidPattern, isValidName, isValidScope, md5Pattern } from './names.js';
import type { FileSpec, ReplicaState } from './catalog-rows.js';

/** Turns a zod failure into Rucio's 400 InvalidObject with one readable line. */
export function parseOrInvalid<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue === undefined || issue.path.length === 0 ? '' : ` at '${issue.path.join('.')}'`;
  throw rucioErrors.invalidObject(`Problem validating ${what}${where}: ${issue?.message ?? 'invalid'}`);
}

const didRef = z.object({ scope: z.string(), name: z.string() }).loose();

export const fileDictSchema = z
  .object({
    scope: z.string(),
    name: z.string(),
    bytes: z.number().int().nonnegative().optional(),
    adler32: z.string().nullable().optional(),
    md5: z.string().nullable().optional(),
    meta: z.record(z.string(), z.unknown()).nullable().optional(),
    guid: z.string().nullable().optional(),
    state: z.string().optional(),
  })
  .loose();

const stateCodes: Record<string, ReplicaState> = {
  A: 'A', AVAILABLE: 'A', C: 'C', COPYING: 'C', U: 'U', UNAVAILABLE: 'U', B: 'B', BEING_DELETED: 'B',
  D: 'D', BAD: 'D', T: 'T', TEMPORARY_UNAVAILABLE: 'T', S: 'S', SUSPICIOUS: 'S',
};

export function replicaState(value: string): ReplicaState {
  const state = stateCodes[value.toUpperCase()];
  if (state === undefined) throw rucioErrors.invalidObject(`Problem validating state: '${value}' is not a replica state (A, C, U, B, D, T, S)`);
  return state;
}

/** Checks one file dict against Rucio's patterns (names, checksums, guid) and normalises it. */
export function toFileSpec(raw: z.infer<typeof fileDictSchema>): FileSpec {
  if (!isValidScope(raw.scope)) throw rucioErrors.invalidObject(`Problem validating scope: '${raw.scope}' does not match ^[a-zA-Z_\\-.0-9]+$ (max 25 characters)`);
  if (!isValidName(raw.name)) throw rucioErrors.invalidObject(`Problem validating name: '${raw.name}' does not match ^[/A-Za-z0-9][/A-Za-z0-9\\.\\-_]*$ (max 250 characters)`);
  const adler32 = raw.adler32 ?? undefined;
  if (adler32 !== undefined && !adler32Pattern.test(adler32)) throw rucioErrors.invalidObject(`Problem validating adler32: '${adler32}' does not match ^[a-fA-F\\d]{8}$`);
  const md5 = raw.md5 ?? undefined;
  if (md5 !== undefined && !md5Pattern.test(md5)) throw rucioErrors.invalidObject(`Problem validating md5: '${md5}' does not match ^[a-fA-F\\d]{32}$`);
  const rawGuid = raw.meta?.guid ?? raw.guid ?? undefined;
  if (rawGuid !== undefined && typeof rawGuid !== 'string') throw rucioErrors.invalidObject('Problem validating guid: not a string');
  const guidValue = rawGuid;
  if (guidValue !== undefined && !guidPattern.test(guidValue)) {
    throw rucioErrors.invalidObject(`Problem validating guid: '${guidValue}' is not a uuid`);
  }
  return {
    scope: raw.scope,
    name: raw.name,
    bytes: raw.bytes,
    adler32,
    md5,
    guid: guidValue?.replace(/[{}-]/g, '').toLowerCase(),
    state: raw.state === undefined ? undefined : replicaState(raw.state),
  };
}

export const addDidSchema = z
  .object({
    type: z.string(),
    statuses: z.record(z.string(), z.unknown()).nullable().optional(),
    meta: z.record(z.string(), z.unknown()).nullable().optional(),
    rules: z.array(z.record(z.string(), z.unknown())).nullable().optional(),
    lifetime: z.number().nullable().optional(),
    dids: z.array(fileDictSchema).nullable().optional(),
    rse: z.string().nullable().optional(),
  })
  .loose();

export const detachSchema = z.object({ dids: z.array(didRef) }).loose();

export const attachSchema = z
  .object({
    dids: z.array(fileDictSchema),
    rse: z.string().nullable().optional(),
    account: z.string().nullable().optional(),
  })
  .loose();

export const attachmentsSchema = z.union([
  z.array(attachSchema.extend({ scope: z.string(), name: z.string() })),
  z.object({
    attachments: z.array(attachSchema.extend({ scope: z.string(), name: z.string() })),
    ignore_duplicate: z.boolean().optional(),
  }).loose(),
]);

export const replicasSchema = z
  .object({
    rse: z.string(),
    files: z.array(fileDictSchema),
    ignore_availability: z.boolean().optional(),
  })
  .loose();

export const updateReplicasSchema = z
  .object({
    rse: z.string().optional(),
    files: z.array(fileDictSchema.extend({ state: z.string(), rse: z.string().optional() })),
  })
  .loose();

export const listReplicasSchema = z
  .object({
    dids: z.array(didRef),
    schemes: z.array(z.string()).nullable().optional(),
    rse_expression: z.string().nullable().optional(),
    all_states: z.boolean().nullable().optional(),
    updated_after: z.union([z.string(), z.number()]).nullable().optional(),
    resolve_parents: z.boolean().nullable().optional(),
    signature_lifetime: z.number().nullable().optional(),
  })
  .loose();

/** What a rule asks for, whether it names its DIDs (POST /rules/) or is given with the DID it is for (a new DID's rules). */
const ruleFields = {
  copies: z.number().int().positive(),
  rse_expression: z.string(),
  grouping: z.enum(['ALL', 'DATASET', 'NONE']).nullable().optional(),
  lifetime: z.number().nullable().optional(),
  account: z.string().nullable().optional(),
};

export const ruleSchema = z.object({ dids: z.array(didRef), ...ruleFields }).loose();

export const datasetRuleSchema = z.object(ruleFields).loose();

export const statusSchema = z.object({ open: z.boolean() }).strict();
