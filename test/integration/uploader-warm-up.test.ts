import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RucioClient, attachEndpoint, attachProbeEndpoint, uploadFile } from '../../src/rucio/index.js';
import { encodeChunk, openSource, type Chunk } from '../../src/strain/index.js';
import { warmUpUploads } from '../../src/uploader/upload-warm-up.js';
import { datasetContent, startTestStack, type TestStack } from '../helpers/stack.js';

/** Every file under `dir`, recursively (the lake's object store). */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name));
}

/** DIDs of the scope whose names the warm-ups give their probes (files and datasets). */
async function probeDids(): Promise<string[]> {
  const names: string[] = [];
  for await (const did of stack.rucio.searchDids(scope, { name: 'wavefier-warm-up-probe-*', type: 'all' })) names.push(did.name);
  return names;
}

let stack: TestStack;
let chunk: Chunk;
const scope = 'wavefier';
const dataset = 'warm-up-target';
beforeAll(async () => {
  stack = await startTestStack();
  await stack.rucio.addDataset(scope, dataset);
  const source = await openSource({ kind: 'synthetic', sampleRate: 4096, seed: 3 }, { runId: 'warmup-test', gpsStart: 1_400_000_000, duration: 1 });
  chunk = source.chunk(0);
  source.close();
});
afterAll(async () => {
  await stack.dispose();
});

describe("an upload worker's warm-up (real lake)", () => {
  it('sends a PUT and an attach of a chunk of the run that are refused: nothing is stored or registered', async () => {
    const objectsBefore = await filesUnder(join(stack.dir, 'lake', 's3'));
    const client = new RucioClient(stack.config);
    try {
      expect(await warmUpUploads(client, { scope, dataset, rse: 'LAKE_S3', tag: 'WARMTEST', chunk })).toBe(true);
      // One probe of a key that cannot exist, then rounds of the PUT of the chunk's bytes to another
      // one, refused for its Content-MD5; rounds of the catalog call of an upload sent to a dataset
      // that does not exist, counted apart from the uploads' attaches.
      expect(client.stats.storage).toEqual({ 's3 STAT': 1, 's3 PUT': 3 });
      expect(client.stats.byEndpoint).not.toHaveProperty([attachEndpoint]);
      expect(client.stats.byEndpoint[attachProbeEndpoint]).toBe(3);
    } finally {
      await client.close();
    }
    expect(await filesUnder(join(stack.dir, 'lake', 's3'))).toEqual(objectsBefore);
    expect((await datasetContent(stack.rucio, scope, dataset)).size).toBe(0);
    expect(await probeDids()).toEqual([]);
  });

  it('does not fail when the catalog refuses the attach otherwise, and the upload after it works', async () => {
    stack.lake.faults.set({ catalog: [{ path: '^/dids/.+/dids$', method: 'POST', errorRate: 1, status: 503 }] });
    const client = new RucioClient(stack.config, { retry: { attempts: 2, baseDelayMs: 10 } });
    try {
      expect(await warmUpUploads(client, { scope, dataset, rse: 'LAKE_S3', tag: 'WARMTEST', chunk })).toBe(true);
      // Both attempts of the first probe met the fault; no further round was sent.
      expect(client.stats.byEndpoint[attachProbeEndpoint]).toBe(2);
    } finally {
      stack.lake.faults.set({});
      await client.close();
    }
    const bytes = encodeChunk(chunk, { tAvail: Date.now(), tag: 'WARMTEST' });
    await stack.rucio.addDataset(scope, 'after-refused-warm-up');
    await uploadFile(stack.rucio, { scope, name: 'after-refused-warm-up.hdf5', bytes, dataset: { scope, name: 'after-refused-warm-up' }, rse: 'LAKE_S3' });
    expect([...(await datasetContent(stack.rucio, scope, 'after-refused-warm-up')).keys()]).toEqual(['after-refused-warm-up.hdf5']);
    expect((await datasetContent(stack.rucio, scope, dataset)).size).toBe(0);
    expect(await probeDids()).toEqual([]);
  });

  it('warms a storage other than S3 with the probe alone (a PUT there could store the bytes)', async () => {
    const client = new RucioClient(stack.config);
    try {
      expect(await warmUpUploads(client, { scope, dataset, rse: 'LAKE_POSIX', tag: 'WARMTEST', chunk })).toBe(true);
      expect(client.stats.storage).toEqual({ 'file STAT': 1 });
    } finally {
      await client.close();
    }
    expect((await datasetContent(stack.rucio, scope, dataset)).size).toBe(0);
  });

  it('answers false for an RSE it cannot warm up, without throwing', async () => {
    expect(await warmUpUploads(stack.rucio, { scope, dataset, rse: 'NO_SUCH_RSE', tag: 'WARMTEST', chunk })).toBe(false);
  });
});
