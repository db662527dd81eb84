import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RucioClient } from '../../src/rucio/index.js';
import { warmUpDatasetStorage } from '../../src/downloader/storage-warm-up.js';
import { startTestStack, type TestStack } from '../helpers/stack.js';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack.dispose();
});

describe("a download's storage warm-up (real lake)", () => {
  it('waits for a dataset the upload has not created yet, then opens the storage its rule names', async () => {
    const client = new RucioClient(stack.config);
    try {
      // Rucio answers an empty rule list, not a 404, for a dataset that does not exist (yet).
      const warming = warmUpDatasetStorage(client, { scope: 'wavefier', dataset: 'created-later' }, new AbortController().signal);
      await new Promise((resolve) => setTimeout(resolve, 400));
      await stack.rucio.addDataset('wavefier', 'created-later', { rules: [{ dids: [{ scope: 'wavefier', name: 'created-later' }], copies: 1, rseExpression: 'LAKE_S3', grouping: 'DATASET' }] });
      await warming;
      expect(client.stats.storage).toEqual({ 's3 STAT': 1 });
    } finally {
      await client.close();
    }
  });

  it('warms up a dataset created, with its rules, between its rules listing and its lookup', async () => {
    const client = new RucioClient(stack.config);
    const delayedBefore = stack.lake.faults.counters().catalog.delayed;
    // The lookup of the dataset is held back; the dataset is created while it waits.
    stack.lake.faults.set({ catalog: [{ method: 'GET', path: '^/dids/wavefier/created-in-between$', latencyMs: 300 }] });
    try {
      const warming = warmUpDatasetStorage(client, { scope: 'wavefier', dataset: 'created-in-between' }, new AbortController().signal);
      while (stack.lake.faults.counters().catalog.delayed === delayedBefore) await new Promise((resolve) => setTimeout(resolve, 5));
      await stack.rucio.addDataset('wavefier', 'created-in-between', {
        rules: [{ dids: [{ scope: 'wavefier', name: 'created-in-between' }], copies: 1, rseExpression: 'LAKE_S3', grouping: 'DATASET' }],
      });
      await warming;
      expect(client.stats.storage).toEqual({ 's3 STAT': 1 });
    } finally {
      stack.lake.faults.clear();
      await client.close();
    }
  });

  it('gives up at once on a dataset that exists without rules', async () => {
    await stack.rucio.addDataset('wavefier', 'no-rules');
    const client = new RucioClient(stack.config);
    try {
      const started = Date.now();
      await warmUpDatasetStorage(client, { scope: 'wavefier', dataset: 'no-rules' }, new AbortController().signal);
      expect(Date.now() - started).toBeLessThan(5000);
      expect(client.stats.storage).toEqual({});
    } finally {
      await client.close();
    }
  });
});
