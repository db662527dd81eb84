import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/common/errors.js';
import { startLake } from '../../src/lake/index.js';
import { lfn2pfn, loadRucioConfig, RucioClient } from '../../src/rucio/index.js';
import { startTestLake, type TestLake } from '../helpers/lake.js';

/**
 * The embedded lake describing a WebDAV RSE it does not run, as a real Rucio describes one
 * (`rucio-admin rse add-protocol --scheme davs --impl rucio.rse.protocols.gfal.Default ...`), so
 * that the official client and wavefier compute the same davs PFNs.
 */

let lake: TestLake;

beforeAll(async () => {
  lake = await startTestLake({ davsRses: [{ url: 'https://storage.example.org:2880/dav/wavefier' }, { name: 'SITE_B', url: 'davs://127.0.0.1/pnfs/lake/' }] });
});

afterAll(async () => {
  await lake.dispose();
});

describe('lake --davs-rse', () => {
  it('describes the RSE with a davs protocol entry, Rucio\'s gfal implementation and verify_checksum off', async () => {
    const info = (await (await lake.rucio('/rses/LAKE_DAVS')).json()) as Record<string, unknown>;
    expect(info).toMatchObject({ rse: 'LAKE_DAVS', deterministic: true, lfn2pfn_algorithm: 'hash', sign_url: null, verify_checksum: false });
    expect(info.protocols).toEqual([
      {
        scheme: 'davs',
        hostname: 'storage.example.org',
        port: 2880,
        prefix: '/dav/wavefier/',
        impl: 'rucio.rse.protocols.gfal.Default',
        domains: {
          lan: { read: 1, write: 1, delete: 1 },
          wan: { read: 1, write: 1, delete: 1, third_party_copy_read: 1, third_party_copy_write: 1 },
        },
        extended_attributes: null,
      },
    ]);
    expect(await (await lake.rucio('/rses/LAKE_DAVS/attr/')).json()).toMatchObject({ LAKE_DAVS: true, lfn2pfn_algorithm: 'hash', verify_checksum: false });
    // A davs:// URL without a port is the HTTPS default.
    const second = (await (await lake.rucio('/rses/SITE_B')).json()) as { protocols: { port: number; prefix: string }[] };
    expect(second.protocols[0]).toMatchObject({ port: 443, prefix: '/pnfs/lake/' });
    expect(lake.settings.rses.filter((r) => r.scheme === 'davs').map((r) => r.pfnPrefix)).toEqual([
      'davs://storage.example.org:2880/dav/wavefier/',
      'davs://127.0.0.1:443/pnfs/lake/',
    ]);
  });

  it('resolves PFNs as the client computes them from the protocol', async () => {
    const name = 'H-H1_GWOSC_4KHZ_R1-1126259462-1.hdf5';
    const answer = (await (await lake.rucio(`/rses/LAKE_DAVS/lfns2pfns?lfn=wavefier:${name}`)).json()) as Record<string, string>;
    const client = new RucioClient(await loadRucioConfig({ env: { RUCIO_HOME: lake.settings.rucioHome } }));
    try {
      const protocol = (await client.rse('LAKE_DAVS')).protocols[0]!;
      expect(answer[`wavefier:${name}`]).toBe(lfn2pfn('wavefier', name, protocol));
      expect(answer[`wavefier:${name}`]).toMatch(/^davs:\/\/storage\.example\.org:2880\/dav\/wavefier\/wavefier\/[0-9a-f]{2}\/[0-9a-f]{2}\/H-H1_GWOSC_4KHZ_R1-1126259462-1\.hdf5$/);
    } finally {
      await client.close();
    }
  });

  it('signs no URLs for it (no S3 keys there)', async () => {
    const response = await lake.rucio(`/credentials/signurl?rse=LAKE_DAVS&op=read&url=${encodeURIComponent('davs://storage.example.org:2880/dav/wavefier/x')}`);
    expect(response.status).toBe(409);
    expect(response.headers.get('exceptionclass')).toBe('UnsupportedOperation');
  });

  it('refuses a URL that is no WebDAV base, a bad RSE name and a name given twice, as ConfigErrors', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wavefier-lake-davs-'));
    try {
      for (const [davsRses, message] of [
        [[{ url: 'ftp://host/x/' }], /RSE LAKE_DAVS: 'ftp:\/\/host\/x\/' is not a WebDAV base URL; use https:\/\/host\[:port\]\/path\//],
        [[{ url: 'https://host/x/?token=1' }], /is not a WebDAV base URL/],
        [[{ name: 'lower', url: 'https://host/x/' }], /invalid RSE name 'lower'/],
        [[{ name: 'LAKE_S3', url: 'https://host/x/' }], /the lake has two RSEs named LAKE_S3/],
      ] as const) {
        const failure = await startLake({ dir, quiet: true, davsRses: [...davsRses] }).then(
          async (started) => {
            await started.close();
            return undefined;
          },
          (error: unknown) => error,
        );
        expect(failure).toBeInstanceOf(ConfigError);
        expect((failure as Error).message).toMatch(message);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
