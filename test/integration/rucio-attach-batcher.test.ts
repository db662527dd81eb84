/**
 * The attach batcher against the embedded lake: files finishing side by side share one catalog
 * request, each file still gets its own outcome, and a batch refused because of one file falls back
 * to one request per file so that the upload's per-file recovery applies. A batch is formed
 * deterministically by holding the first request of a lane at a gate in front of the real client
 * until the other files are waiting.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { checksums } from '../../src/common/checksum.js';
import { startLake, type Lake } from '../../src/lake/index.js';
import { gatedFirstAttach, until } from '../helpers/attach-gate.js';
import {
  AttachBatcher,
  DidConflictError,
  RucioClient,
  RucioConflictError,
  RucioTransientError,
  attachEndpoint,
  fetchVerified,
  rucioConfigFrom,
  uploadFile,
  type Did,
  type FileDid,
} from '../../src/rucio/index.js';

let dir: string;
let lake: Lake;
let client: RucioClient;
const scope = 'wavefier';
const run = `batch${Date.now().toString(36)}`;
let datasets = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'attach-batcher-'));
  lake = await startLake({ dir: join(dir, 'lake'), quiet: true });
  client = new RucioClient(rucioConfigFrom({ ...lake.settings, tokenCacheDir: join(dir, 'tokens') }), {
    retry: { baseDelayMs: 5, maxDelayMs: 20 },
  });
});

afterAll(async () => {
  await client.close();
  await lake.close();
  await rm(dir, { recursive: true, force: true });
});

beforeEach(() => {
  lake.faults.clear();
});

async function newDataset(): Promise<Did> {
  const dataset = { scope, name: `${run}.ds${datasets++}` };
  await client.addDataset(dataset.scope, dataset.name);
  return dataset;
}

/** A file as an upload registers it (size and checksums of random bytes; the catalog does not read storage). */
function fileDid(name: string): FileDid {
  const bytes = randomBytes(64);
  return { scope, name, bytes: bytes.byteLength, ...checksums(bytes) };
}

function attachRequests(): number {
  return client.stats.byEndpoint[attachEndpoint] ?? 0;
}


async function contentNames(dataset: Did): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of client.listContent(dataset.scope, dataset.name)) names.push(entry.name);
  return names.sort();
}

async function replicaStates(names: readonly string[], rse: string): Promise<Map<string, string | undefined>> {
  const states = new Map<string, string | undefined>();
  for await (const replica of client.listReplicas({ dids: names.map((name) => ({ scope, name })), rseExpression: rse, allStates: true })) {
    states.set(replica.name, replica.states[rse]);
  }
  return states;
}

function settled(promises: readonly Promise<unknown>[]): Promise<PromiseSettledResult<unknown>[]> {
  return Promise.allSettled(promises);
}

describe('AttachBatcher', () => {
  it('sends a file at once when nothing is out, and the files that arrive meanwhile together in one request when it returns', async () => {
    const dataset = await newDataset();
    const batcher = new AttachBatcher(client);
    const before = attachRequests();
    const files = Array.from({ length: 6 }, (_, i) => fileDid(`${dataset.name}-f${i}`));
    const first = batcher.attach(dataset, files[0]!, { rse: 'LAKE_S3' });
    // No timer: the first request is out before attach() returns.
    expect(batcher.stats.requests).toBe(1);
    const rest = files.slice(1).map((file) => batcher.attach(dataset, file, { rse: 'LAKE_S3' }));
    expect(batcher.waiting).toBe(5);
    await Promise.all([first, ...rest]);
    expect(batcher.stats).toEqual({ requests: 2, batchedFiles: 5, fallbacks: 0 });
    expect(attachRequests() - before).toBe(2);
    expect(batcher.waiting).toBe(0);
    expect(await contentNames(dataset)).toEqual(files.map((f) => f.name).sort());
    const states = await replicaStates(files.map((f) => f.name), 'LAKE_S3');
    expect([...states.values()]).toEqual(files.map(() => 'AVAILABLE'));
    for (const file of files) expect((await client.getMetadata(scope, file.name)).adler32).toBe(file.adler32);
  });

  it('bounds a batch (maxFiles) and keeps the lanes of different datasets apart', async () => {
    const [one, two] = [await newDataset(), await newDataset()];
    const batcher = new AttachBatcher(client, { maxFiles: 3 });
    const files = Array.from({ length: 8 }, (_, i) => fileDid(`${one.name}-f${i}`));
    const elsewhere = fileDid(`${two.name}-f0`);
    const outcomes = files.map((file) => batcher.attach(one, file, { rse: 'LAKE_S3' }));
    // Another dataset's lane is not held up by the first one's.
    const otherLane = batcher.attach(two, elsewhere, { rse: 'LAKE_S3' });
    expect(batcher.stats.requests).toBe(2);
    await Promise.all([...outcomes, otherLane]);
    // The first dataset: 1 + 3 + 3 + 1 files; the other: 1.
    expect(batcher.stats).toEqual({ requests: 5, batchedFiles: 6, fallbacks: 0 });
    expect(await contentNames(one)).toEqual(files.map((f) => f.name).sort());
    expect(await contentNames(two)).toEqual([elsewhere.name]);
  });

  it('sends a DID named twice in a later request, so that the second gets the answer it would get alone', async () => {
    const dataset = await newDataset();
    const gated = gatedFirstAttach(client);
    const batcher = new AttachBatcher(gated.client);
    const [leader, a, b] = ['leader', 'a', 'b'].map((name) => fileDid(`${dataset.name}-${name}`)) as [FileDid, FileDid, FileDid];
    const outcomes = [leader, a, a, b].map((file) => batcher.attach(dataset, file, { rse: 'LAKE_S3' }));
    gated.release();
    const results = await settled(outcomes);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    const second = (results[2] as PromiseRejectedResult).reason as unknown;
    expect(second).toBeInstanceOf(RucioConflictError);
    expect((second as RucioConflictError).failure.exceptionClass).toBe('FileAlreadyExists');
    expect(batcher.stats).toEqual({ requests: 3, batchedFiles: 2, fallbacks: 0 });
    expect(await contentNames(dataset)).toEqual([leader.name, a.name, b.name].sort());
  });

  it('uploads side by side: one request for the files that finished their PUT while another was out; each stored, registered AVAILABLE and attached', async () => {
    const dataset = await newDataset();
    const gated = gatedFirstAttach(client);
    const batcher = new AttachBatcher(gated.client);
    const before = attachRequests();
    const chunks = Array.from({ length: 8 }, (_, i) => ({ name: `${dataset.name}-c${i}.hdf5`, bytes: randomBytes(4096 + i) }));
    const uploads = chunks.map((chunk) => uploadFile(client, { scope, ...chunk, dataset, rse: 'LAKE_S3', attachBatcher: batcher }));
    await until(() => batcher.waiting === 7, 'seven uploads wait behind the first one\'s attach');
    gated.release();
    const results = await Promise.all(uploads);
    expect(attachRequests() - before).toBe(2);
    expect(batcher.stats).toEqual({ requests: 2, batchedFiles: 7, fallbacks: 0 });
    expect(results.map((r) => r.alreadyRegistered)).toEqual(chunks.map(() => false));
    expect(await contentNames(dataset)).toEqual(chunks.map((c) => c.name).sort());
    for await (const replica of client.listReplicas({ dids: chunks.map((c) => ({ scope, name: c.name })), rseExpression: 'LAKE_S3' })) {
      expect(replica.states.LAKE_S3).toBe('AVAILABLE');
      const chunk = chunks.find((c) => c.name === replica.name)!;
      expect(replica.adler32).toBe(checksums(chunk.bytes).adler32);
      expect(Buffer.from((await fetchVerified(client, replica)).bytes).equals(chunk.bytes)).toBe(true);
    }
  });

  it('one file of a batch registered before with other bytes gets its own DidConflictError; the others of the batch land', async () => {
    const dataset = await newDataset();
    const clashName = `${dataset.name}-clash.hdf5`;
    const firstBytes = randomBytes(2000);
    // On another RSE, so that the PUT on LAKE_S3 finds nothing and the catalog is the one to refuse.
    const first = await uploadFile(client, { scope, name: clashName, bytes: firstBytes, dataset, rse: 'LAKE_POSIX' });

    const gated = gatedFirstAttach(client);
    const batcher = new AttachBatcher(gated.client);
    const leader = fileDid(`${dataset.name}-leader`);
    const leading = batcher.attach(dataset, leader, { rse: 'LAKE_S3' });
    const chunks = ['a', clashName, 'b', 'c'].map((name) => ({ name: name === clashName ? name : `${dataset.name}-${name}.hdf5`, bytes: randomBytes(3000) }));
    const uploads = chunks.map((chunk) => uploadFile(client, { scope, ...chunk, dataset, rse: 'LAKE_S3', attachBatcher: batcher }));
    await until(() => batcher.waiting === 4, 'the four uploads wait behind the leader');
    gated.release();
    await leading;
    const outcomes = await settled(uploads);

    // The batch was refused as a whole (FileConsistencyMismatch), then each file went alone.
    expect(batcher.stats).toEqual({ requests: 6, batchedFiles: 4, fallbacks: 1 });
    const clash = outcomes[1];
    expect(clash?.status).toBe('rejected');
    const error = (clash as PromiseRejectedResult).reason as unknown;
    expect(error).toBeInstanceOf(DidConflictError);
    expect((error as Error).message).toContain(`upload ${scope}:${clashName} refused: the catalog already holds it with adler32 ${first.adler32}`);
    for (const index of [0, 2, 3]) expect(outcomes[index]?.status).toBe('fulfilled');

    const landed = chunks.filter((c) => c.name !== clashName).map((c) => c.name);
    expect(await contentNames(dataset)).toEqual([leader.name, clashName, ...landed].sort());
    const states = await replicaStates([...landed, clashName], 'LAKE_S3');
    for (const name of landed) expect(states.get(name)).toBe('AVAILABLE');
    // Nothing of the refused file on LAKE_S3: no replica, and the object its PUT wrote is removed.
    expect(states.get(clashName)).toBeUndefined();
    const target = await client.storage.writeTarget('LAKE_S3', scope, clashName);
    expect(await target.store.stat(target.pfn)).toBeUndefined();
    expect((await client.getMetadata(scope, clashName)).adler32).toBe(first.adler32);
  });

  it('a batch whose connection drops is read back before it is sent again', async () => {
    const dataset = await newDataset();
    const gated = gatedFirstAttach(client);
    const batcher = new AttachBatcher(gated.client);
    const files = Array.from({ length: 4 }, (_, i) => fileDid(`${dataset.name}-f${i}`));
    const outcomes = files.map((file) => batcher.attach(dataset, file, { rse: 'LAKE_S3' }));
    expect(batcher.waiting).toBe(3);
    // The leader's request and the batch's: both dropped before the lake applied them.
    lake.faults.set({ catalog: [{ path: '^/dids/.+/dids$', method: 'POST', dropBurst: 2 }] });
    const parents = client.stats.byEndpoint['GET /dids/{scope}/{name}/parents'] ?? 0;
    const before = attachRequests();
    gated.release();
    await Promise.all(outcomes);
    expect(lake.faults.counters().catalog.drops).toBe(2);
    // Each read back (the first file not attached: not applied) and sent again.
    expect(attachRequests() - before).toBe(4);
    expect((client.stats.byEndpoint['GET /dids/{scope}/{name}/parents'] ?? 0) - parents).toBe(2);
    expect(batcher.stats.requests).toBe(2);
    expect(batcher.stats.fallbacks).toBe(0);
    expect(await contentNames(dataset)).toEqual(files.map((f) => f.name).sort());
  });

  it('a refusal of the whole request (the server failing through every retry, a closed dataset) goes to every file of the batch, without single requests', async () => {
    const dataset = await newDataset();
    for (const refusal of ['503', 'closed'] as const) {
      const gated = gatedFirstAttach(client);
      const batcher = new AttachBatcher(gated.client);
      const files = Array.from({ length: 4 }, (_, i) => fileDid(`${dataset.name}-${refusal}-f${i}`));
      const outcomes = files.map((file) => batcher.attach(dataset, file, { rse: 'LAKE_S3' }));
      if (refusal === '503') lake.faults.set({ catalog: [{ path: '^/dids/.+/dids$', method: 'POST', errorRate: 1, status: 503 }] });
      else await client.closeDataset(dataset.scope, dataset.name);
      gated.release();
      const errors = (await settled(outcomes)).map((outcome) => (outcome.status === 'rejected' ? (outcome.reason as unknown) : undefined));
      expect(batcher.stats, refusal).toEqual({ requests: 2, batchedFiles: 3, fallbacks: 0 });
      for (const error of errors) {
        if (refusal === '503') {
          expect(error).toBeInstanceOf(RucioTransientError);
          expect((error as RucioTransientError).retryable).toBe(true);
        } else {
          expect(error).toBeInstanceOf(RucioConflictError);
          expect((error as Error).message).toMatch(/HTTP 409 UnsupportedOperation .*is closed.*reopen it/);
        }
      }
      expect(errors.every((error) => error !== undefined)).toBe(true);
      lake.faults.clear();
      expect(await contentNames(dataset)).toEqual([]);
    }
  });

  it('a caller that gives up while waiting leaves the batch at once; the others land, its file does not', async () => {
    const dataset = await newDataset();
    const gated = gatedFirstAttach(client);
    const batcher = new AttachBatcher(gated.client);
    const files = Array.from({ length: 4 }, (_, i) => fileDid(`${dataset.name}-f${i}`));
    const abort = new AbortController();
    const outcomes = files.map((file, i) => batcher.attach(dataset, file, { rse: 'LAKE_S3', ...(i === 2 ? { signal: abort.signal } : {}) }));
    abort.abort(new Error('stopped by the test'));
    const given: unknown = await outcomes[2]!.catch((e: unknown) => e);
    expect((given as Error).message).toBe('stopped by the test');
    expect(batcher.waiting).toBe(2);
    gated.release();
    await Promise.all(outcomes.filter((_, i) => i !== 2));
    expect(batcher.stats).toEqual({ requests: 2, batchedFiles: 2, fallbacks: 0 });
    expect(await contentNames(dataset)).toEqual([0, 1, 3].map((i) => files[i]!.name).sort());
  });

  it('never sends an attach of no DIDs, which Rucio refuses: not when every waiting caller gave up, nor when asked for none', async () => {
    const dataset = await newDataset();
    const gated = gatedFirstAttach(client);
    const batcher = new AttachBatcher(gated.client);
    const before = attachRequests();
    const files = Array.from({ length: 3 }, (_, i) => fileDid(`${dataset.name}-f${i}`));
    const abort = new AbortController();
    const outcomes = files.map((file, i) => batcher.attach(dataset, file, { rse: 'LAKE_S3', ...(i > 0 ? { signal: abort.signal } : {}) }));
    abort.abort(new Error('stopped by the test'));
    await Promise.allSettled(outcomes.slice(1));
    gated.release();
    await outcomes[0];
    expect(batcher.waiting).toBe(0);
    expect(batcher.stats).toEqual({ requests: 1, batchedFiles: 0, fallbacks: 0 });
    await client.attachDids(dataset.scope, dataset.name, [], { rse: 'LAKE_S3' });
    await client.attachDids(dataset.scope, dataset.name, []);
    expect(attachRequests() - before).toBe(1);
    expect(await contentNames(dataset)).toEqual([files[0]!.name]);
  });
});
