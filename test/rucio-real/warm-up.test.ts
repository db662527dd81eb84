/**
 * The warm-ups of `upload` and `download` against a real Rucio 1.31.7 server: the refused attach an
 * upload's warm-up sends (the catalog call of an upload, to a dataset that does not exist) is
 * answered 404 DataIdentifierNotFound and registers nothing, and the warm-ups leave no DID, replica
 * or file behind.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RucioClient, attachEndpoint, attachProbeEndpoint, exceptionClassOf, loadRucioConfig, warmUpStorage } from '../../src/rucio/index.js';
import { openSource, type Chunk } from '../../src/strain/index.js';
import { warmUpUploads } from '../../src/uploader/upload-warm-up.js';
import { realRucioForFile } from './peer.js';

const real = realRucioForFile();
const scope = 'wavefier';
let client: RucioClient;
let chunk: Chunk;

beforeAll(async () => {
  client = new RucioClient(await loadRucioConfig({ env: real().env }), { retry: { attempts: 1 } });
  const source = await openSource({ kind: 'synthetic', sampleRate: 4096, seed: 5 }, { runId: 'warm-up-real', gpsStart: 1_400_000_000, duration: 1 });
  chunk = source.chunk(0);
  source.close();
}, 120_000);

afterAll(async () => {
  await client.close();
});

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name));
}

describe('warm-ups against a real Rucio server', { timeout: 120_000 }, () => {
  it('refuses an attach with replica registration to a dataset that does not exist, and registers nothing', async () => {
    const name = `wavefier-warm-up-probe-direct-${Date.now()}`;
    const file = { scope, name, bytes: 1, adler32: '00010001', md5: '93b885adfe0da089cdf634904fd59f71' };
    const refusal = await client.attachDids(scope, `${name}-dataset`, [file], { rse: 'LOCAL_POSIX', probe: true }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(exceptionClassOf(refusal)).toBe('DataIdentifierNotFound');
    await expect(client.getDid(scope, name)).rejects.toMatchObject({ code: 'not-found' });
  });

  it("an upload's warm-up leaves no DID, replica or file behind", async () => {
    const dataset = `warm-up-target-${Date.now()}`;
    await client.addDataset(scope, dataset);
    const rseDir = real().info.rse_prefix;
    const filesBefore = await filesUnder(rseDir);
    const attachesBefore = client.stats.byEndpoint[attachEndpoint] ?? 0;
    expect(await warmUpUploads(client, { scope, dataset, rse: 'LOCAL_POSIX', tag: 'WARMREAL', chunk })).toBe(true);
    expect(await warmUpStorage(client, 'LOCAL_POSIX', scope, 'read')).toBe(true);
    expect(client.stats.byEndpoint[attachEndpoint] ?? 0).toBe(attachesBefore);
    expect(client.stats.byEndpoint[attachProbeEndpoint]).toBeGreaterThanOrEqual(1);
    const probes = await real().rucioOk(['list-dids', '--filter', 'type=all', `${scope}:wavefier-warm-up-probe-*`]);
    expect(probes).not.toMatch(/wavefier-warm-up-probe/);
    expect(await real().rucioOk(['list-content', `${scope}:${dataset}`])).not.toMatch(/wavefier/);
    expect(await filesUnder(rseDir)).toEqual(filesBefore);
  });
});
