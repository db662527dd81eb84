import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestLake, type TestLake } from '../helpers/lake.js';

/**
 * The transcript's exchanges (shared/rucio/TRANSCRIPT.md), replayed against the lake over real HTTP:
 * status codes, content types, exception headers and body shapes.
 */
let lake: TestLake;

const json = (value: unknown): string => JSON.stringify(value);

async function expectRucioError(response: Response, status: number, exceptionClass: string, message?: string | RegExp): Promise<void> {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toBe('application/octet-stream');
  expect(response.headers.get('exceptionclass')).toBe(exceptionClass);
  const body = (await response.json()) as { ExceptionClass: string; ExceptionMessage: string };
  expect(body.ExceptionClass).toBe(exceptionClass);
  expect(response.headers.get('exceptionmessage')).toBe(body.ExceptionMessage);
  if (typeof message === 'string') expect(body.ExceptionMessage).toBe(message);
  else if (message !== undefined) expect(body.ExceptionMessage).toMatch(message);
}

function file(name: string, adler32 = '27b304b2', extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { scope: 'user.root', name, bytes: 14, adler32, md5: 'cb3090dbbc8ab5252c1316c34ff6c396', meta: { guid: '6d91cf4e917a4ee78b35fccb17ac5c55' }, ...extra };
}

beforeAll(async () => {
  lake = await startTestLake();
});
afterAll(async () => {
  await lake.dispose();
});

describe('auth and accounts (transcript 01, 09)', () => {
  it('answers ping without a token', async () => {
    const response = await lake.rucio('/ping', { token: null });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ version: expect.any(String) as unknown });
  });

  it('issues a token with Rucio headers on /auth/userpass', async () => {
    const response = await fetch(`${lake.settings.authHost}/auth/userpass`, {
      headers: { 'X-Rucio-Account': 'root', 'X-Rucio-Username': lake.settings.username, 'X-Rucio-Password': lake.settings.password },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/octet-stream');
    expect(response.headers.get('x-rucio-auth-account')).toBe('root');
    expect(response.headers.get('x-rucio-auth-token')).toMatch(/^root-wavefier-unknown-[0-9a-f]{32}$/);
    const expires = response.headers.get('x-rucio-auth-token-expires') ?? '';
    expect(expires).toMatch(/^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} UTC$/);
    const lifetime = Date.parse(expires.replace(' UTC', ' GMT')) - Date.now();
    expect(lifetime).toBeGreaterThan(3_590_000);
    expect(lifetime).toBeLessThanOrEqual(3_600_000);
    expect(await response.text()).toBe('');
  });

  it('rejects a bad password with 401 IdentityNotFound', async () => {
    const response = await fetch(`${lake.settings.authHost}/auth/userpass`, {
      headers: { 'X-Rucio-Account': 'root', 'X-Rucio-Username': lake.settings.username, 'X-Rucio-Password': 'wrongpassword' },
    });
    await expectRucioError(response, 401, 'IdentityNotFound', 'Cannot authenticate. Username/Password pair does not exist.');
  });

  it('answers 401 CannotAuthenticate without a token or with an unknown one', async () => {
    await expectRucioError(await lake.rucio('/accounts/whoami', { token: null }), 401, 'CannotAuthenticate');
    await expectRucioError(await lake.rucio('/rses/', { token: 'root-wavefier-unknown-00000000000000000000000000000000' }), 401, 'CannotAuthenticate');
  });

  it('redirects whoami with 303 to the account, which is a SERVICE account', async () => {
    const redirect = await lake.rucio('/accounts/whoami');
    expect(redirect.status).toBe(303);
    expect(redirect.headers.get('location')).toBe('root');
    const account = await lake.rucio('/accounts/root');
    expect(account.headers.get('content-type')).toBe('application/json');
    expect(await account.json()).toMatchObject({ account: 'root', account_type: 'SERVICE', status: 'ACTIVE', email: null, suspended_at: null });
  });

  it('validates a token', async () => {
    const response = await lake.rucio('/auth/validate');
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ account: 'root', identity: 'wavefier' });
  });

  it('lists scopes as a JSON array', async () => {
    const response = await lake.rucio('/accounts/root/scopes/');
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(await response.json()).toEqual(['user.root', 'wavefier']);
    expect(await (await lake.rucio('/scopes/')).json()).toEqual(['user.root', 'wavefier']);
    await expectRucioError(await lake.rucio('/accounts/nobody/scopes/'), 404, 'AccountNotFound');
  });
});

describe('RSEs (transcript 03, 06.3, 07.1, 13)', () => {
  it('resolves expressions as x-json-stream', async () => {
    const one = await lake.rucio('/rses/?expression=LAKE_S3');
    expect(one.headers.get('content-type')).toBe('application/x-json-stream');
    expect(await one.text()).toBe('{"rse":"LAKE_S3"}\n');
    const union = await lake.rucio(`/rses/?expression=${encodeURIComponent('LAKE_S3|LAKE_POSIX')}`);
    expect((await union.text()).trim().split('\n').map((line) => (JSON.parse(line) as { rse: string }).rse)).toEqual(['LAKE_S3', 'LAKE_POSIX']);
    const all = await (await lake.rucio('/rses/?expression=*')).text();
    expect(all.trim().split('\n')).toHaveLength(3);
    const attr = await (await lake.rucio(`/rses/?expression=${encodeURIComponent('sign_url=s3')}`)).text();
    expect(attr).toBe('{"rse":"LAKE_S3"}\n{"rse":"LAKE_SIGNED"}\n');
    const both = await (await lake.rucio(`/rses/?expression=${encodeURIComponent('*&lfn2pfn_algorithm=hash\\LAKE_SIGNED')}`)).text();
    expect(both.trim().split('\n')).toHaveLength(2);
  });

  it('answers 400 InvalidRSEExpression for an empty result or bad syntax', async () => {
    await expectRucioError(await lake.rucio('/rses/?expression=istape%3Dtrue'), 400, 'InvalidRSEExpression', 'RSE Expression resulted in an empty set.');
    await expectRucioError(await lake.rucio('/rses/?expression=NO_SUCH_RSE'), 400, 'InvalidRSEExpression');
    await expectRucioError(await lake.rucio(`/rses/?expression=${encodeURIComponent('LAKE_S3|')}`), 400, 'InvalidRSEExpression');
  });

  it('lists all RSEs with their full records', async () => {
    const text = await (await lake.rucio('/rses/')).text();
    const first = JSON.parse(text.split('\n')[0] ?? '') as Record<string, unknown>;
    expect(first).toMatchObject({ rse: 'LAKE_S3', vo: 'def', rse_type: 'DISK', deterministic: true, availability: 7 });
    expect(first.id).toMatch(/^[0-9a-f]{32}$/);
  });

  it('describes LAKE_S3 like Rucio 1.31 describes an S3 RSE (https, gfal.NoRename, sign_url s3)', async () => {
    const response = await lake.rucio('/rses/LAKE_S3');
    expect(response.headers.get('content-type')).toBe('application/json');
    const info = (await response.json()) as { protocols: Record<string, unknown>[] } & Record<string, unknown>;
    const port = Number(new URL(lake.settings.s3.tlsEndpoint).port);
    expect(info).toMatchObject({ rse: 'LAKE_S3', deterministic: true, lfn2pfn_algorithm: 'hash', domain: ['lan', 'wan'], verify_checksum: false, sign_url: 's3' });
    expect(info.protocols).toEqual([
      {
        scheme: 'https',
        hostname: '127.0.0.1',
        port,
        prefix: '/wavefier-lake/',
        impl: 'rucio.rse.protocols.gfal.NoRename',
        domains: {
          lan: { read: 1, write: 1, delete: 1 },
          wan: { read: 1, write: 1, delete: 1, third_party_copy_read: 1, third_party_copy_write: 1 },
        },
        extended_attributes: null,
      },
    ]);
    const posix = (await (await lake.rucio('/rses/LAKE_POSIX')).json()) as { protocols: Record<string, unknown>[] };
    expect(posix.protocols[0]).toMatchObject({ scheme: 'file', hostname: 'localhost', port: 0, impl: 'rucio.rse.protocols.posix.Default', extended_attributes: null });
    const signed = (await (await lake.rucio('/rses/LAKE_SIGNED')).json()) as Record<string, unknown>;
    expect(signed).toMatchObject({ sign_url: 's3', verify_checksum: false });
  });

  it('returns RSE attributes and 404 RSENotFound for an unknown RSE', async () => {
    expect(await (await lake.rucio('/rses/LAKE_POSIX/attr/')).json()).toEqual({ LAKE_POSIX: true, lfn2pfn_algorithm: 'hash' });
    expect(await (await lake.rucio('/rses/LAKE_SIGNED/attr/')).json()).toMatchObject({ sign_url: 's3', s3_url_style: 'path', skip_upload_stat: true, verify_checksum: false, strict_copy: true });
    await expectRucioError(await lake.rucio('/rses/NO_SUCH_RSE/attr/'), 404, 'RSENotFound', "RSE 'NO_SUCH_RSE' cannot be found in vo 'def'");
    await expectRucioError(await lake.rucio('/rses/NO_SUCH_RSE'), 404, 'RSENotFound');
  });

  it('computes PFNs with the hash algorithm exactly as Rucio (user.root:file1.txt -> user/root/41/04)', async () => {
    const response = await lake.rucio('/rses/LAKE_POSIX/lfns2pfns?lfn=user.root:file1.txt&lfn=user.root:single.txt&lfn=wavefier:x.hdf5');
    const pfns = (await response.json()) as Record<string, string>;
    const prefix = lake.settings.rses.find((rse) => rse.name === 'LAKE_POSIX')?.pfnPrefix ?? '';
    expect(pfns['user.root:file1.txt']).toBe(`${prefix}user/root/41/04/file1.txt`);
    expect(pfns['user.root:single.txt']).toBe(`${prefix}user/root/db/78/single.txt`);
    expect(pfns['wavefier:x.hdf5']).toMatch(new RegExp(`^${prefix}wavefier/[0-9a-f]{2}/[0-9a-f]{2}/x\\.hdf5$`));
  });
});

describe('DIDs, replicas and rules (transcript 02-08, 10-12)', () => {
  it('creates a dataset (201 Created as text/html) and refuses a second one (409)', async () => {
    const body = json({ type: 'DATASET', statuses: { monotonic: false } });
    const created = await lake.rucio('/dids/user.root/ds1', { method: 'POST', body });
    expect(created.status).toBe(201);
    expect(created.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await created.text()).toBe('Created');
    await expectRucioError(await lake.rucio('/dids/user.root/ds1', { method: 'POST', body }), 409, 'DataIdentifierAlreadyExists', 'Data Identifier already exists!');
  });

  it('answers 404 DataIdentifierNotFound for an unknown DID', async () => {
    await expectRucioError(
      await lake.rucio('/dids/user.root/does_not_exist/meta?plugin=DID_COLUMN'),
      404,
      'DataIdentifierNotFound',
      "Data identifier 'user.root:does_not_exist' not found",
    );
    await expectRucioError(await lake.rucio('/dids/user.root/does_not_exist'), 404, 'DataIdentifierNotFound');
    // Listings of an unknown DID are empty, not 404 (as a real Rucio 1.31 answers; test/rucio-real/conformance).
    for (const path of ['/dids/user.root/does_not_exist/dids', '/dids/user.root/does_not_exist/parents', '/dids/user.root/does_not_exist/rules']) {
      const listing = await lake.rucio(path);
      expect([listing.status, await listing.text()], path).toEqual([200, '']);
    }
  });

  it('runs the official client upload sequence: replica C, PUT state A, attach (04.9-04.12)', async () => {
    const one = file('file1.txt');
    const add = await lake.rucio('/replicas', { method: 'POST', body: json({ rse: 'LAKE_POSIX', files: [{ ...one, state: 'C' }], ignore_availability: true }) });
    expect([add.status, await add.text()]).toEqual([201, 'Created']);
    const copying = await lake.rucio('/replicas/list', { method: 'POST', body: json({ dids: [{ scope: 'user.root', name: 'file1.txt' }] }) });
    expect(JSON.parse(await copying.text())).toMatchObject({ name: 'file1.txt', pfns: {}, rses: {}, states: {} });
    const update = await lake.rucio('/replicas', { method: 'PUT', body: json({ rse: 'LAKE_POSIX', files: [{ ...one, state: 'A' }] }) });
    expect(update.status).toBe(200);
    expect(await update.text()).toBe('');
    const attach = await lake.rucio('/dids/user.root/ds1/dids', { method: 'POST', body: json({ dids: [{ scope: 'user.root', name: 'file1.txt' }] }) });
    expect([attach.status, await attach.text()]).toEqual([201, 'Created']);
  });

  it('attaches with rse: the replica is registered AVAILABLE in the same call', async () => {
    const response = await lake.rucio('/dids/user.root/ds1/dids', {
      method: 'POST',
      body: json({ rse: 'LAKE_S3', dids: [file('file2.txt', '93330987', { bytes: 29, md5: '5b3d0ab06ffee2231502fe4d18c75501' })] }),
    });
    expect(response.status).toBe(201);
    const meta = (await (await lake.rucio('/dids/user.root/file2.txt/meta?plugin=DID_COLUMN')).json()) as Record<string, unknown>;
    expect(meta).toMatchObject({ did_type: 'FILE', bytes: 29, adler32: '93330987', guid: '6d91cf4e917a4ee78b35fccb17ac5c55', availability: 'AVAILABLE' });
    expect(meta.created_at).toMatch(/ UTC$/);
  });

  it('lists content and files in the transcript formats (05.1, 05.2)', async () => {
    const content = await lake.rucio('/dids/user.root/ds1/dids');
    expect(content.headers.get('content-type')).toBe('application/x-json-stream');
    expect(await content.text()).toBe(
      '{"scope":"user.root","name":"file1.txt","type":"FILE","bytes":14,"adler32":"27b304b2","md5":"cb3090dbbc8ab5252c1316c34ff6c396"}\n' +
        '{"scope":"user.root","name":"file2.txt","type":"FILE","bytes":29,"adler32":"93330987","md5":"5b3d0ab06ffee2231502fe4d18c75501"}\n',
    );
    const files = await (await lake.rucio('/dids/user.root/ds1/files')).text();
    expect(JSON.parse(files.split('\n')[0] ?? '')).toEqual({ scope: 'user.root', name: 'file1.txt', bytes: 14, adler32: '27b304b2', guid: '6D91CF4E917A4EE78B35FCCB17AC5C55', events: null });
  });

  it('reports length null on the column and the live count with dynamic_depth (07.3, 08.2)', async () => {
    const plain = (await (await lake.rucio('/dids/user.root/ds1')).json()) as Record<string, unknown>;
    expect(plain).toEqual({ scope: 'user.root', name: 'ds1', type: 'DATASET', account: 'root', open: true, monotonic: false, expired_at: null, length: null, bytes: null });
    const dynamic = (await (await lake.rucio('/dids/user.root/ds1?dynamic_depth=FILE')).json()) as Record<string, unknown>;
    expect(dynamic).toMatchObject({ length: 2, bytes: 43, open: true });
    const meta = (await (await lake.rucio('/dids/user.root/ds1/meta?plugin=DID_COLUMN')).json()) as Record<string, unknown>;
    // Rucio's naming convention gives collections of user* scopes the project 'user'.
    expect(meta).toMatchObject({ did_type: 'DATASET', is_open: true, length: null, project: 'user' });
  });

  it('lists replicas as x-json-stream with pfns, rses and states (06.2)', async () => {
    const response = await lake.rucio('/replicas/list', {
      method: 'POST',
      body: json({ dids: [{ scope: 'user.root', name: 'ds1' }], domain: null, ignore_availability: true, all_states: false, client_location: { ip: '::1' }, resolve_archives: true, resolve_parents: false }),
    });
    expect(response.headers.get('content-type')).toBe('application/x-json-stream');
    const lines = (await response.text()).split('\n');
    expect(lines.at(-1)).toBe('');
    const first = JSON.parse(lines[0] ?? '') as Record<string, unknown>;
    const posix = lake.settings.rses.find((rse) => rse.name === 'LAKE_POSIX')?.pfnPrefix ?? '';
    const pfn = `${posix}user/root/41/04/file1.txt`;
    expect(first).toEqual({
      scope: 'user.root',
      name: 'file1.txt',
      bytes: 14,
      md5: 'cb3090dbbc8ab5252c1316c34ff6c396',
      adler32: '27b304b2',
      pfns: { [pfn]: { rse_id: expect.stringMatching(/^[0-9a-f]{32}$/) as unknown, rse: 'LAKE_POSIX', type: 'DISK', volatile: false, domain: 'wan', priority: 1, client_extract: false } },
      rses: { LAKE_POSIX: [pfn] },
      states: { LAKE_POSIX: 'AVAILABLE' },
    });
    const second = JSON.parse(lines[1] ?? '') as { pfns: Record<string, unknown> };
    expect(Object.keys(second.pfns)[0]).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/wavefier-lake\/user\/root\/[0-9a-f]{2}\/[0-9a-f]{2}\/file2\.txt\?X-Amz-Algorithm=.*X-Amz-Signature=[0-9a-f]+/);
  });

  it('filters replicas by rse_expression and answers metalink4 XML when asked (07.4)', async () => {
    const filtered = await lake.rucio('/replicas/list', { method: 'POST', body: json({ dids: [{ scope: 'user.root', name: 'ds1' }], rse_expression: 'LAKE_S3' }) });
    expect((await filtered.text()).trim().split('\n').map((line) => (JSON.parse(line) as { name: string }).name)).toEqual(['file2.txt']);
    const xml = await lake.rucio('/replicas/list', {
      method: 'POST',
      headers: { Accept: 'application/metalink4+xml' },
      body: json({ dids: [{ scope: 'user.root', name: 'ds1' }], resolve_parents: true }),
    });
    expect(xml.headers.get('content-type')).toBe('application/metalink4+xml');
    const text = await xml.text();
    expect(text).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<metalink xmlns="urn:ietf:params:xml:ns:metalink">\n <file name="file1.txt">\n {2}<parents>\n {3}<did>user.root:ds1<\/did>/);
    expect(text).toContain('<identity>user.root:file1.txt</identity>\n  <hash type="adler32">27b304b2</hash>\n  <hash type="md5">cb3090dbbc8ab5252c1316c34ff6c396</hash>\n  <size>14</size>');
    expect(text).toMatch(/<url location="LAKE_POSIX" domain="wan" priority="1" client_extract="false">file:\/\/localhost\/.+\/user\/root\/41\/04\/file1.txt<\/url>/);
  });

  it('returns only replicas updated after the cut-off (string and epoch forms)', async () => {
    await new Promise((resolve) => setTimeout(resolve, 20));
    const cut = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 5));
    await lake.rucio('/dids/user.root/ds1/dids', { method: 'POST', body: json({ rse: 'LAKE_S3', dids: [file('file3.bin', '24f30136', { bytes: 2048, md5: '7e7ce7b67464920fdb114c85111a6bf9' })] }) });
    const asString = new Date(cut).toISOString().replace('Z', '').replace(/\.(\d{3})$/, '.$1000');
    for (const updatedAfter of [asString, cut / 1000]) {
      const response = await lake.rucio('/replicas/list', { method: 'POST', body: json({ dids: [{ scope: 'user.root', name: 'ds1' }], updated_after: updatedAfter }) });
      expect((await response.text()).trim().split('\n').map((line) => (JSON.parse(line) as { name: string }).name)).toEqual(['file3.bin']);
    }
    const future = await lake.rucio('/replicas/list', { method: 'POST', body: json({ dids: [{ scope: 'user.root', name: 'ds1' }], updated_after: '2999-01-01T00:00:00' }) });
    expect(future.status).toBe(200);
    expect(await future.text()).toBe('');
    await expectRucioError(
      await lake.rucio('/replicas/list', { method: 'POST', body: json({ dids: [{ scope: 'user.root', name: 'ds1' }], updated_after: 'yesterday' }) }),
      400,
      'InvalidValueForKey',
    );
  });

  it('treats a second attach of the same file as a duplicate, and a different checksum as a mismatch', async () => {
    await expectRucioError(
      await lake.rucio('/dids/user.root/ds1/dids', { method: 'POST', body: json({ dids: [{ scope: 'user.root', name: 'file1.txt' }] }) }),
      409,
      'FileAlreadyExists',
    );
    // With rse: the replica is there already (skipped), the attachment is the duplicate.
    await expectRucioError(
      await lake.rucio('/dids/user.root/ds1/dids', { method: 'POST', body: json({ rse: 'LAKE_S3', dids: [file('file2.txt', '93330987', { bytes: 29, md5: '5b3d0ab06ffee2231502fe4d18c75501' })] }) }),
      409,
      'FileAlreadyExists',
    );
    // Uncaught by Rucio's attach view: a 500 (the bulk view below answers 412).
    await expectRucioError(
      await lake.rucio('/dids/user.root/ds1/dids', { method: 'POST', body: json({ rse: 'LAKE_S3', dids: [file('file2.txt', '00000001', { bytes: 29 })] }) }),
      500,
      'FileConsistencyMismatch',
      /adler32 mismatch for 'user.root:file2.txt'/,
    );
    const bulk = await lake.rucio('/dids/attachments', {
      method: 'POST',
      body: json({ attachments: [{ scope: 'user.root', name: 'ds1', dids: [{ scope: 'user.root', name: 'file1.txt' }] }], ignore_duplicate: true }),
    });
    expect(bulk.status).toBe(201);
    const length = (await (await lake.rucio('/dids/user.root/ds1?dynamic_depth=FILE')).json()) as { length: number };
    expect(length.length).toBe(3);
  });

  it('searches DIDs by name with the Python-literal filters and the flat form (07.2)', async () => {
    const literal = await lake.rucio(`/dids/user.root/dids/search?type=all&filters=${encodeURIComponent("[{'name': 'ds1'}]")}&long=True&recursive=False`);
    expect(literal.headers.get('content-type')).toBe('application/x-json-stream');
    expect(await literal.text()).toBe('{"scope":"user.root","name":"ds1","did_type":"DIDType.DATASET","bytes":null,"length":null}\n');
    const flat = await lake.rucio(`/dids/user.root/dids/search?type=file&name=file*&created_after=2000-01-01T00:00:00`);
    expect((await flat.text()).trim().split('\n')).toEqual(['"file1.txt"', '"file2.txt"', '"file3.bin"']);
    const none = await lake.rucio(`/dids/user.root/dids/search?type=file&name=file*&created_after=2999-01-01T00:00:00`);
    expect(await none.text()).toBe('');
  });

  it('records dataset rules and POST /rules/ (03.7, 04.7, 08.3)', async () => {
    const rules = [{ account: 'root', copies: 1, rse_expression: 'LAKE_S3', grouping: 'DATASET', lifetime: null }];
    expect((await lake.rucio('/dids/user.root/ds2', { method: 'POST', body: json({ type: 'DATASET', rules }) })).status).toBe(201);
    const listed = await lake.rucio('/dids/user.root/ds2/rules');
    expect(listed.headers.get('content-type')).toBe('application/x-json-stream');
    expect(JSON.parse(await listed.text())).toMatchObject({ scope: 'user.root', name: 'ds2', rse_expression: 'LAKE_S3', copies: 1, state: 'OK', grouping: 'DATASET' });
    expect(await (await lake.rucio('/dids/user.root/ds1/rules')).text()).toBe('');
    const created = await lake.rucio('/rules/', {
      method: 'POST',
      body: json({ dids: [{ scope: 'user.root', name: 'file1.txt' }], copies: 1, rse_expression: 'LAKE_POSIX', weight: null, lifetime: null, grouping: 'DATASET', account: null, notify: 'N' }),
    });
    expect(created.status).toBe(201);
    expect(created.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const ids = JSON.parse(await created.text()) as string[];
    expect(ids).toHaveLength(1);
    const rule = await lake.rucio(`/rules/${ids[0] ?? ''}`);
    expect(await rule.json()).toMatchObject({ id: ids[0], rse_expression: 'LAKE_POSIX', account: 'root', did_type: 'FILE' });
    await expectRucioError(await lake.rucio('/rules/00000000000000000000000000000000'), 404, 'RuleNotFound');
    await expectRucioError(
      await lake.rucio('/rules/', { method: 'POST', body: json({ dids: [{ scope: 'user.root', name: 'file1.txt' }], copies: 1, rse_expression: 'istape=true' }) }),
      409,
      'InvalidRSEExpression',
    );
  });

  it('closes a dataset and then refuses attachments with 409 UnsupportedOperation (12)', async () => {
    expect((await lake.rucio('/dids/user.root/ds3', { method: 'POST', body: json({ type: 'DATASET' }) })).status).toBe(201);
    await lake.rucio('/dids/user.root/ds3/dids', { method: 'POST', body: json({ dids: [{ scope: 'user.root', name: 'file1.txt' }] }) });
    const close = await lake.rucio('/dids/user.root/ds3/status', { method: 'PUT', body: json({ open: false }) });
    expect([close.status, await close.text()]).toEqual([200, '']);
    await expectRucioError(
      await lake.rucio('/dids/user.root/ds3/dids', { method: 'POST', body: json({ dids: [{ scope: 'user.root', name: 'file2.txt' }] }) }),
      409,
      'UnsupportedOperation',
      "Data identifier 'user.root:ds3' is closed",
    );
    expect(await (await lake.rucio('/dids/user.root/ds3')).json()).toMatchObject({ open: false, length: 1, bytes: 14 });
  });

  it('counts files through a container with dynamic_depth=FILE', async () => {
    expect((await lake.rucio('/dids/user.root/cont', { method: 'POST', body: json({ type: 'CONTAINER' }) })).status).toBe(201);
    const attach = await lake.rucio('/dids/user.root/cont/dids', { method: 'POST', body: json({ dids: [{ scope: 'user.root', name: 'ds1' }, { scope: 'user.root', name: 'ds3' }] }) });
    expect(attach.status).toBe(201);
    expect(await (await lake.rucio('/dids/user.root/cont?dynamic_depth=FILE')).json()).toMatchObject({ type: 'CONTAINER', length: 4, bytes: 14 + 29 + 2048 + 14 });
    await expectRucioError(
      await lake.rucio('/dids/user.root/cont/dids', { method: 'POST', body: json({ dids: [{ scope: 'user.root', name: 'file1.txt' }] }) }),
      409,
      'UnsupportedOperation',
    );
    const files = await (await lake.rucio('/dids/user.root/cont/files')).text();
    expect(files.trim().split('\n')).toHaveLength(3);
  });

  it('sets the metadata of the DID columns by key and in bulk, and refuses other keys (no JSON plugin, as in Rucio by default)', async () => {
    const one = await lake.rucio('/dids/user.root/ds1/meta/run_number', { method: 'POST', body: json({ value: 42 }) });
    expect([one.status, await one.text()]).toEqual([201, 'Created']);
    expect((await lake.rucio('/dids/user.root/ds1/meta', { method: 'POST', body: json({ meta: { datatype: 'strain', stream_name: 'V1' } }) })).status).toBe(201);
    expect(await (await lake.rucio('/dids/user.root/ds1/meta')).json()).toMatchObject({ run_number: 42, datatype: 'strain', stream_name: 'V1', did_type: 'DATASET' });
    await expectRucioError(await lake.rucio('/dids/user.root/ds1/meta/run_id', { method: 'POST', body: json({ value: 'R-42' }) }), 400, 'InvalidMetadata', 'No plugin manages metadata key run_id for DID user.root:ds1');
    await expectRucioError(
      await lake.rucio('/dids/user.root/ds1/meta', { method: 'POST', body: json({ meta: { detector: 'V1', gps: 1126259462 } }) }),
      400,
      'InvalidMetadata',
      "No plugin manages metadata keys ['detector', 'gps'] on DID user.root:ds1",
    );
    await expectRucioError(await lake.rucio('/dids/user.root/ds1/meta/adler32', { method: 'POST', body: json({ value: 'x' }) }), 400, 'InvalidMetadata');
    await expectRucioError(await lake.rucio('/dids/user.root/ds1/meta/k', { method: 'POST', body: json({ nope: 1 }) }), 400, 'KeyError');
    await expectRucioError(await lake.rucio('/dids/user.root/nothing/meta/k', { method: 'POST', body: json({ value: 1 }) }), 404, 'DataIdentifierNotFound');
  });

  it('lists parents of a file', async () => {
    const text = await (await lake.rucio('/dids/user.root/file1.txt/parents')).text();
    expect(text.trim().split('\n').map((line) => (JSON.parse(line) as { name: string }).name).sort()).toEqual(['ds1', 'ds3']);
  });
});

describe('bad requests get Rucio answers, never a crash', () => {
  it('rejects malformed JSON, non-dict bodies and missing keys', async () => {
    await expectRucioError(await lake.rucio('/dids/user.root/dsx', { method: 'POST', body: '{"type": "DATASET"' }), 400, 'ValueError', 'Cannot decode json parameter list');
    await expectRucioError(await lake.rucio('/dids/user.root/dsx', { method: 'POST', body: '' }), 400, 'ValueError');
    await expectRucioError(await lake.rucio('/dids/user.root/dsx', { method: 'POST', body: '[1,2]' }), 400, 'TypeError');
    await expectRucioError(await lake.rucio('/replicas', { method: 'POST', body: json({ files: [] }) }), 400, 'InvalidObject');
  });

  it('validates names, scopes and checksums with Rucio patterns', async () => {
    await expectRucioError(await lake.rucio('/dids/user.root/bad%20name', { method: 'POST', body: json({ type: 'DATASET' }) }), 400, 'InvalidObject', /name/);
    await expectRucioError(await lake.rucio(`/dids/user.root/${'n'.repeat(251)}`, { method: 'POST', body: json({ type: 'DATASET' }) }), 400, 'InvalidObject');
    await expectRucioError(await lake.rucio('/dids/no.such.scope/ds', { method: 'POST', body: json({ type: 'DATASET' }) }), 404, 'ScopeNotFound');
    await expectRucioError(await lake.rucio('/dids/user.root/ds1', { method: 'POST', body: json({ type: 'FILE' }) }), 400, 'InvalidObject');
    // The attach views do not catch the InvalidObject of Rucio's schema check: a 500, where adding a DID answers 400 (above).
    await expectRucioError(
      await lake.rucio('/dids/user.root/ds1/dids', { method: 'POST', body: json({ rse: 'LAKE_S3', dids: [file('f.bad', '7b304b2')] }) }),
      500,
      'InvalidObject',
      /adler32/,
    );
    await expectRucioError(
      await lake.rucio('/dids/user.root/ds1/dids', { method: 'POST', body: json({ rse: 'LAKE_S3', dids: [file('f.bad', '27b304b2', { md5: 'xyz' })] }) }),
      500,
      'InvalidObject',
      /md5/,
    );
    await expectRucioError(
      await lake.rucio('/dids/user.root/ds1/dids', { method: 'POST', body: json({ rse: 'NO_SUCH_RSE', dids: [file('f.ok')] }) }),
      404,
      'RSENotFound',
    );
    await expectRucioError(
      await lake.rucio('/dids/user.root/ds1/dids', { method: 'POST', body: json({ rse: 'LAKE_S3', dids: [file('f.ok', '27b304b2', { scope: 'nope' })] }) }),
      404,
      'ScopeNotFound',
    );
    await expectRucioError(
      await lake.rucio('/dids/user.root/nods/dids', { method: 'POST', body: json({ rse: 'LAKE_S3', dids: [file('f.ok')] }) }),
      404,
      'DataIdentifierNotFound',
    );
  });

  it('refuses an attach of no DIDs like Rucio (500 InvalidObject, before looking anything up); takes an empty bulk list as nothing to do', async () => {
    const content = async (): Promise<string> => (await lake.rucio('/dids/user.root/ds1/dids')).text();
    const before = await content();
    for (const body of [{ dids: [] }, { rse: 'LAKE_S3', dids: [] }]) {
      await expectRucioError(await lake.rucio('/dids/user.root/ds1/dids', { method: 'POST', body: json(body) }), 500, 'InvalidObject', 'Problem validating attachment : [] is too short');
    }
    await expectRucioError(await lake.rucio('/dids/user.root/nods/dids', { method: 'POST', body: json({ dids: [] }) }), 500, 'InvalidObject', 'Problem validating attachment : [] is too short');
    const withEmpty = [
      { scope: 'user.root', name: 'ds1', dids: [{ scope: 'user.root', name: 'file1.txt' }] },
      { scope: 'user.root', name: 'ds3', dids: [] },
    ];
    for (const body of [withEmpty, { attachments: withEmpty, ignore_duplicate: true }]) {
      await expectRucioError(await lake.rucio('/dids/attachments', { method: 'POST', body: json(body) }), 500, 'InvalidObject', 'Problem validating attachments : [] is too short');
    }
    for (const body of [[], { attachments: [] }]) {
      const response = await lake.rucio('/dids/attachments', { method: 'POST', body: json(body) });
      expect([response.status, await response.text()]).toEqual([201, 'Created']);
    }
    await expectRucioError(await lake.rucio('/dids/attachments', { method: 'POST', body: json({ ignore_duplicate: true }) }), 400, 'KeyError', "'attachments' not defined");
    await expectRucioError(await lake.rucio('/dids/attachments', { method: 'POST', body: json('x') }), 400, 'TypeError', 'body must be a json dictionary or list');
    expect(await content()).toBe(before);
  });

  it('answers unknown paths with 404 and wrong methods with 405', async () => {
    const unknown = await lake.rucio('/nothing/here');
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const trace = await lake.rucio('/traces/', { method: 'POST', body: '{}', token: null });
    expect([trace.status, await trace.text()]).toEqual([201, 'Created']);
    expect((await lake.rucio('/replicas/list')).status).toBe(405);
  });

  it('still serves after all of the above', async () => {
    expect((await lake.rucio('/ping', { token: null })).status).toBe(200);
  });
});

describe('robustness against odd requests', () => {
  function raw(method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const url = new URL(lake.settings.rucioHost);
      const request = http.request({ host: url.hostname, port: url.port, method, path, headers }, (response) => {
        let text = '';
        response.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
      });
      request.on('error', reject);
      request.end(body);
    });
  }

  it('accepts a JSON body without any Content-Type (as the Python client sends it)', async () => {
    const token = await lake.token();
    const response = await raw('POST', '/dids/wavefier/no-content-type', JSON.stringify({ type: 'DATASET' }), { 'X-Rucio-Auth-Token': token });
    expect(response).toEqual({ status: 201, body: 'Created' });
  });

  it('survives odd paths, binary bodies and bad encodings', async () => {
    const token = await lake.token();
    const auth = { 'X-Rucio-Auth-Token': token };
    expect((await raw('GET', '//evil.example/ping')).status).toBe(404);
    expect((await raw('GET', '/dids/wavefier/%E0%A4%A', undefined, auth)).status).toBe(400);
    expect((await raw('POST', '/replicas/list', '\u0000\u0001binary', auth)).status).toBe(400);
    expect((await raw('POST', '/replicas/list', JSON.stringify({ dids: 'nope' }), auth)).status).toBe(400);
    // An unknown DID lists nothing, as in Rucio.
    expect(await raw('POST', '/replicas/list', JSON.stringify({ dids: [{ scope: 'wavefier', name: 'none' }] }), auth)).toEqual({ status: 200, body: '' });
    expect((await raw('PUT', '/dids/wavefier/no-content-type/status', JSON.stringify({ open: 'no' }), auth)).status).toBe(400);
    expect((await raw('PUT', '/dids/wavefier/no-content-type/status', JSON.stringify({ frozen: true }), auth)).status).toBe(409);
    expect((await raw('GET', '/ping')).status).toBe(200);
  });
});
