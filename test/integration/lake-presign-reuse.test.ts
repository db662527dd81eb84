import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RucioClient, rucioConfigFrom, uploadFile } from '../../src/rucio/index.js';
import { startTestLake, type TestLake } from '../helpers/lake.js';

let lake: TestLake;
let client: RucioClient;
const scope = 'wavefier';
const bytes = new TextEncoder().encode('presigned once a minute\n');

beforeAll(async () => {
  lake = await startTestLake();
  client = new RucioClient(rucioConfigFrom({ ...lake.settings }));
  await client.addDataset(scope, 'presign-ds', {});
  await uploadFile(client, { scope, name: 'presign-file', bytes, dataset: { scope, name: 'presign-ds' }, rse: 'LAKE_S3' });
});

afterAll(async () => {
  await client.close();
  await lake.dispose();
});

/** The signed URL the listing gives for the file on LAKE_S3. */
async function listedUrl(lifetimeSeconds: number): Promise<URL> {
  const response = await lake.rucio('/replicas/list', {
    method: 'POST',
    body: JSON.stringify({ dids: [{ scope, name: 'presign-ds' }], rse_expression: 'LAKE_S3', signature_lifetime: lifetimeSeconds }),
  });
  expect(response.status).toBe(200);
  const record = JSON.parse((await response.text()).trim()) as { rses: Record<string, string[]> };
  return new URL(record.rses.LAKE_S3?.[0] ?? '');
}

describe('the lake signs a listed PFN once a minute (a poller lists each new file several times)', () => {
  it('hands out the same URL again, valid for at least the lifetime asked for, and it reads the file', async () => {
    const first = await listedUrl(300);
    const second = await listedUrl(300);
    expect(second.href).toBe(first.href);
    // Signed for the lifetime plus the minute it may be handed out again.
    expect(Number(first.searchParams.get('X-Amz-Expires'))).toBe(360);
    const response = await lake.storageFetch(first.href);
    expect(response.status).toBe(200);
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(bytes);
  });

  it('signs anew for another lifetime, within the 7 days S3 allows', async () => {
    expect((await listedUrl(600)).searchParams.get('X-Amz-Expires')).toBe('660');
    const week = await listedUrl(604_800);
    expect(week.searchParams.get('X-Amz-Expires')).toBe('604800');
    expect((await lake.storageFetch(week.href)).status).toBe(200);
  });
});
