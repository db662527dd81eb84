import { hasDatasetMarker, datasetMarker } from '../common/dataset-marker.js';
import { UsageError } from '../common/errors.js';
import { exceptionClassOf, rucioNotFound, type RucioClient, type RuleInfo } from '../rucio/index.js';

export interface DatasetRef {
  scope: string;
  name: string;
}

/** One replica of one file of the dataset, as the catalog lists it. */
export interface ReplicaEntry {
  scope: string;
  name: string;
  rse: string;
  /** The PFN the catalog gives for it; none for a replica it lists without one (not AVAILABLE). */
  pfn?: string;
  bytes: number;
  state: string;
}

/** What a dataset holds, read from the catalog before anything is changed. */
export interface CleanPlan {
  dataset: DatasetRef;
  /** The account that owns the dataset. */
  account?: string;
  /** The dataset carries wavefier's marker: wavefier created it. */
  createdByWavefier: boolean;
  /** When the dataset expires already (RFC 1123), if it has a lifetime. */
  expiredAt?: string;
  files: number;
  replicas: ReplicaEntry[];
  /** Bytes of all replicas (a file on two RSEs counts twice). */
  bytes: number;
  rules: RuleInfo[];
}

export type ObjectOutcome = 'deleted' | 'absent' | 'failed' | 'no-pfn';
export type RuleOutcome = 'deleted' | 'gone' | 'denied' | 'locked' | 'failed';

export interface CleanResult {
  objects: Record<ObjectOutcome, number>;
  /** Bytes of the objects deleted now. */
  bytesDeleted: number;
  /** The first few storage failures, as "rse pfn: message". */
  objectFailures: string[];
  rules: { id: string; rseExpression: string; outcome: RuleOutcome; message?: string }[];
  /** The dataset's lifetime set to 0 (rucio erase, without its day of grace); false with the reason. */
  erased: { done: true } | { done: false; message: string };
}

/** Storage deletes in flight at once. */
const storageConcurrency = 8;
/** Storage failures listed by name; beyond, counted. */
const failuresListed = 5;

/**
 * Reads what `clean` would erase: the dataset (it must be one, and exist), its marker, its files,
 * every replica of them (all states, on every RSE) and its rules. Changes nothing.
 */
export async function planClean(rucio: RucioClient, dataset: DatasetRef): Promise<CleanPlan> {
  const subject = `${dataset.scope}:${dataset.name}`;
  let did;
  try {
    did = await rucio.getDid(dataset.scope, dataset.name);
  } catch (error) {
    if (rucioNotFound(error)) throw new UsageError(`no dataset ${subject} at ${rucio.config.rucioHost}: check the DID (scope:name); nothing was changed`);
    throw error;
  }
  if (did.type !== 'DATASET') throw new UsageError(`${subject} is a ${did.type.toLowerCase()}, not a dataset: clean erases one rehearsal's dataset; nothing was changed`);
  const meta = await rucio.getMetadata(dataset.scope, dataset.name);
  let files = 0;
  for await (const entry of rucio.listContent(dataset.scope, dataset.name)) if (entry.type === 'FILE') files++;
  const replicas: ReplicaEntry[] = [];
  for await (const record of rucio.listReplicas({ dids: [dataset], allStates: true })) {
    for (const [rse, state] of Object.entries(record.states)) {
      const pfn = record.pfns.find((entry) => entry.rse === rse)?.pfn;
      replicas.push({ scope: record.scope, name: record.name, rse, bytes: record.bytes, state, ...(pfn === undefined ? {} : { pfn }) });
    }
  }
  const rules = await rucio.listDidRules(dataset.scope, dataset.name);
  return {
    dataset,
    ...(did.account === undefined ? {} : { account: did.account }),
    createdByWavefier: hasDatasetMarker(meta),
    ...(did.expiredAt === undefined ? {} : { expiredAt: did.expiredAt }),
    files,
    replicas,
    bytes: replicas.reduce((sum, replica) => sum + replica.bytes, 0),
    rules,
  };
}

/** Refuses a dataset wavefier did not create, unless forced: clean erases data for good. */
export function checkCleanable(plan: CleanPlan, force: boolean): void {
  if (plan.createdByWavefier || force) return;
  const subject = `${plan.dataset.scope}:${plan.dataset.name}`;
  throw new UsageError(
    `${subject} was not created by wavefier (its metadata has no ${datasetMarker.key}=${datasetMarker.value}); ` +
      'clean erases only rehearsal datasets: add --force if you are sure it is one (e.g. made by an older wavefier); nothing was changed',
  );
}

/**
 * Erases what the plan lists, in the order that loses nothing if it stops half-way:
 * 1. every replica's object is deleted from storage through the RSE's protocol (after a stat, so that
 *    what was already gone is told apart), while the catalog still says where each one is;
 * 2. each rule of the dataset is deleted (Rucio deletes softly: the rule expires within the hour and
 *    the judge-cleaner removes it; the generic policy allows it to root and admin accounts only);
 * 3. the dataset's lifetime is set to 0 (what `rucio erase` does, without its day of grace: the
 *    objects are already gone): Rucio's undertaker then removes the dataset and marks its files'
 *    replicas for the reaper, which removes them and the file DIDs from the catalog.
 * Files are not detached: the undertaker finds them through the dataset. Nothing the account may
 * not do is forced: a refusal is reported, and the rest goes on.
 */
export async function executeClean(rucio: RucioClient, plan: CleanPlan, onObject?: (done: number, total: number) => void): Promise<CleanResult> {
  const result: CleanResult = {
    objects: { deleted: 0, absent: 0, failed: 0, 'no-pfn': 0 },
    bytesDeleted: 0,
    objectFailures: [],
    rules: [],
    erased: { done: true },
  };
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    for (let index = next++; index < plan.replicas.length; index = next++) {
      const replica = plan.replicas[index];
      if (replica === undefined) continue;
      const outcome = await deleteObject(rucio, replica).catch((error: unknown) => {
        if (result.objectFailures.length < failuresListed) result.objectFailures.push(`${replica.rse} ${replica.pfn ?? ''}: ${messageOf(error)}`);
        return 'failed' as const;
      });
      result.objects[outcome]++;
      if (outcome === 'deleted') result.bytesDeleted += replica.bytes;
      onObject?.(++done, plan.replicas.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(storageConcurrency, plan.replicas.length) }, worker));

  for (const rule of plan.rules) {
    try {
      await rucio.deleteRule(rule.id);
      result.rules.push({ id: rule.id, rseExpression: rule.rseExpression, outcome: 'deleted' });
    } catch (error) {
      const cls = exceptionClassOf(error);
      const outcome: RuleOutcome = rucioNotFound(error) ? 'gone' : cls === 'AccessDenied' ? 'denied' : cls === 'UnsupportedOperation' ? 'locked' : 'failed';
      result.rules.push({ id: rule.id, rseExpression: rule.rseExpression, outcome, message: messageOf(error) });
    }
  }

  try {
    await rucio.setMetadata(plan.dataset.scope, plan.dataset.name, 'lifetime', 0);
  } catch (error) {
    result.erased = { done: false, message: messageOf(error) };
  }
  return result;
}

async function deleteObject(rucio: RucioClient, replica: ReplicaEntry): Promise<ObjectOutcome> {
  if (replica.pfn === undefined) return 'no-pfn';
  const store = await rucio.storage.forPfn(replica.rse, replica.pfn, 'delete');
  if ((await store.stat(replica.pfn)) === undefined) return 'absent';
  await store.delete(replica.pfn);
  return 'deleted';
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
