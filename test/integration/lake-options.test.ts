import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/common/errors.js';
import { startLake } from '../../src/lake/index.js';
import { startTestLake, type TestLake } from '../helpers/lake.js';

const lakes: TestLake[] = [];
afterEach(async () => {
  for (const lake of lakes.splice(0)) await lake.dispose();
});

describe('startLake options', () => {
  it('configures accounts, identities, scopes and RSEs', async () => {
    const lake = await startTestLake({
      accounts: [
        { account: 'ego', type: 'USER', identities: [{ username: 'ego-user', password: 'given-password' }], scopes: ['VIRGO_EGO_TEST'] },
        { account: 'cnaf', identities: [{ username: 'cnaf-user' }], scopes: ['cnaf.data'] },
      ],
      scopes: ['extra'],
      rses: [
        { name: 'LAKE_S3', kind: 's3', prefix: '/ego-bucket/rucio/' },
        { name: 'CNAF_POSIX', kind: 'posix', attributes: { site: 'CNAF', istape: false } },
      ],
    });
    lakes.push(lake);
    expect(lake.settings).toMatchObject({ account: 'ego', username: 'ego-user', password: 'given-password', scopes: ['VIRGO_EGO_TEST', 'extra'] });
    expect(lake.settings.rses.map((rse) => rse.name)).toEqual(['LAKE_S3', 'CNAF_POSIX']);
    expect(lake.settings.rses[0]?.pfnPrefix).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/ego-bucket\/rucio\/$/);
    expect(await (await lake.rucio('/accounts/ego')).json()).toMatchObject({ account_type: 'USER' });
    expect(await (await lake.rucio('/accounts/cnaf/scopes/')).json()).toEqual(['cnaf.data']);
    expect(await (await lake.rucio('/rses/?expression=site%3DCNAF')).text()).toBe('{"rse":"CNAF_POSIX"}\n');
    const other = await fetch(`${lake.settings.authHost}/auth/userpass`, { headers: { 'X-Rucio-Username': 'ego-user', 'X-Rucio-Password': 'wrong' } });
    expect(other.status).toBe(401);
  });

  it('refuses configurations that cannot work, with a ConfigError, before touching the dir', async () => {
    const neverUsed = join(tmpdir(), `wavefier-lake-never-${process.pid}`);
    await expect(startLake({ dir: neverUsed, accounts: [] })).rejects.toBeInstanceOf(ConfigError);
    await expect(startLake({ dir: neverUsed, scopes: ['bad scope'] })).rejects.toThrow(/invalid scope 'bad scope'/);
    await expect(startLake({ dir: neverUsed, rses: [{ name: 'OTHER', kind: 'posix' }] })).rejects.toThrow(/LAKE_S3/);
    await expect(startLake({ dir: neverUsed, tokenLifetimeMs: 0 })).rejects.toBeInstanceOf(ConfigError);
    expect(existsSync(neverUsed)).toBe(false);
  });

  it('reports a port in use as a one-line UnavailableError', async () => {
    const lake = await startTestLake();
    lakes.push(lake);
    const port = Number(new URL(lake.settings.rucioHost).port);
    await expect(startTestLake({ port })).rejects.toThrow(/cannot listen on 127\.0\.0\.1:\d+ \(EADDRINUSE\)/);
  });
});
