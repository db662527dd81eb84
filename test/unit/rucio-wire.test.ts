import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { jwtExpiry, needsRenewal, parseTokenExpiry } from '../../src/rucio/auth.js';
import {
  RucioAccessDeniedError,
  RucioAuthenticationError,
  RucioConflictError,
  RucioNotFoundError,
  RucioTransientError,
  failureFrom,
  rucioErrorFor,
} from '../../src/rucio/errors.js';
import { parseJsonLines } from '../../src/rucio/json-stream.js';
import { replicaFromJson, rucioTimestamp } from '../../src/rucio/replicas.js';
import { replicasFromMetalink } from '../../src/rucio/replicas-metalink.js';
import { warmUpReplicaLine, warmUpReplicaParsing } from '../../src/rucio/warm-up.js';
import { sharedDir } from '../helpers/cli.js';

async function transcriptBlock(heading: string): Promise<string> {
  const text = await readFile(join(sharedDir, 'rucio', 'TRANSCRIPT.md'), 'utf8');
  const at = text.indexOf(heading);
  const body = text.indexOf('Response body:\n```\n', at) + 'Response body:\n```\n'.length;
  return text.slice(body, text.indexOf('\n```', body));
}

describe('x-json-stream parsing', () => {
  it('yields one object per line across arbitrary chunk boundaries, empty body = nothing', async () => {
    const text = '{"a": 1}\n{"a": 2, "s": "é"}\n\n{"a": 3}\n';
    const bytes = Buffer.from(text);
    const chunks = [bytes.subarray(0, 3), bytes.subarray(3, 13), bytes.subarray(13, 14), bytes.subarray(14)];
    const out: unknown[] = [];
    for await (const item of parseJsonLines(Readable.from(chunks))) out.push(item);
    expect(out).toEqual([{ a: 1 }, { a: 2, s: 'é' }, { a: 3 }]);
    const none: unknown[] = [];
    for await (const item of parseJsonLines(Readable.from([]))) none.push(item);
    expect(none).toEqual([]);
  });
});

describe('replica records from the transcript', () => {
  it('parses the JSON stream of POST /replicas/list', async () => {
    const body = await transcriptBlock('### 06.2  POST /replicas/list');
    const records = [];
    for await (const line of parseJsonLines(Readable.from([body]))) records.push(replicaFromJson(line));
    expect(records).toHaveLength(3);
    expect(records[0]).toEqual({
      scope: 'user.root',
      name: 'file1.txt',
      bytes: 14,
      adler32: '27b304b2',
      md5: 'cb3090dbbc8ab5252c1316c34ff6c396',
      pfns: [{ pfn: 'file://localhost/srv/rucio/rse/LOCAL_POSIX/user/root/41/04/file1.txt', rse: 'LOCAL_POSIX', priority: 1, domain: 'wan' }],
      states: { LOCAL_POSIX: 'AVAILABLE' },
    });
  });

  it('warms the parsing up with a line of the same fields as a real answer', async () => {
    const body = await transcriptBlock('### 06.2  POST /replicas/list');
    const lines: Record<string, unknown>[] = [];
    for await (const line of parseJsonLines(Readable.from([body]))) lines.push(line as Record<string, unknown>);
    const real = lines[0] ?? {};
    const pfnFields = (line: Record<string, unknown>): string[] => Object.keys(Object.values(line.pfns as Record<string, object>)[0] ?? {}).sort();
    expect(Object.keys(warmUpReplicaLine).sort()).toEqual(Object.keys(real).sort());
    expect(pfnFields(warmUpReplicaLine)).toEqual(pfnFields(real));
    expect(warmUpReplicaParsing()).toBe(true);
  });

  it('parses the metalink answer to the same records', async () => {
    const xml = await transcriptBlock('### 07.4  POST /replicas/list');
    const records = replicasFromMetalink(xml);
    expect(records.map((r) => r.name)).toEqual(['file1.txt', 'file2.txt', 'file3.bin']);
    expect(records[2]).toMatchObject({ scope: 'user.root', bytes: 2048, adler32: '24f30136', md5: '7e7ce7b67464920fdb114c85111a6bf9' });
    expect(records[2]?.pfns[0]?.pfn).toBe('file://localhost/srv/rucio/rse/LOCAL_POSIX/user/root/c1/c9/file3.bin');
  });

  it('formats updated_after as Rucio expects', () => {
    expect(rucioTimestamp(Date.UTC(2026, 10, 26, 15, 6, 7, 900))).toBe('2026-11-26T15:06:07');
  });
});

describe('error mapping', () => {
  it('prefers the body, falls back to the headers', () => {
    const body = '{"ExceptionClass": "DataIdentifierNotFound", "ExceptionMessage": "Data identifier \'user.root:x\' not found"}';
    expect(failureFrom('get DID', 'user.root:x', 404, {}, body).exceptionClass).toBe('DataIdentifierNotFound');
    expect(failureFrom('get DID', 'user.root:x', 404, { exceptionclass: 'RSENotFound' }, '<html>').exceptionClass).toBe('RSENotFound');
  });

  it('maps classes to typed errors whose message names the operation and the DID', () => {
    const notFound = rucioErrorFor({ operation: 'get DID', subject: 'user.root:x', status: 404, exceptionClass: 'DataIdentifierNotFound', exceptionMessage: 'nope' });
    expect(notFound).toBeInstanceOf(RucioNotFoundError);
    expect(notFound.message).toMatch(/^get DID user\.root:x failed: HTTP 404 DataIdentifierNotFound \(nope\)/);
    expect(rucioErrorFor({ operation: 'x', status: 401, exceptionClass: 'IdentityNotFound' })).toBeInstanceOf(RucioAuthenticationError);
    expect(rucioErrorFor({ operation: 'x', status: 409, exceptionClass: 'UnsupportedOperation' })).toBeInstanceOf(RucioConflictError);
    expect(rucioErrorFor({ operation: 'x', status: 503, exceptionClass: 'ResourceTemporaryUnavailable' })).toBeInstanceOf(RucioTransientError);
  });

  it('explains the generic policy RSE-name rule on AccessDenied when registering replicas', () => {
    const error = rucioErrorFor(
      { operation: 'register on EGO_S3 and attach to dataset', subject: 'wavefier:ds', status: 401, exceptionClass: 'AccessDenied', exceptionMessage: 'Account x can not add file replicas on EGO_S3' },
      { registersReplicas: true },
    );
    expect(error).toBeInstanceOf(RucioAccessDeniedError);
    expect(error.message).toMatch(/SCRATCHDISK, USERDISK, LOCALGROUPDISK or MOCK/);
  });
});

describe('token lifetime', () => {
  it('parses X-Rucio-Auth-Token-Expires as the server writes it', () => {
    const now = Date.UTC(2026, 10, 26, 15, 6, 11);
    expect(parseTokenExpiry('Thu, 26 Nov 2026 16:06:11 UTC', now)).toBe(Date.UTC(2026, 10, 26, 16, 6, 11));
    expect(parseTokenExpiry('garbage', now)).toBeUndefined();
  });

  it('renews at 80% of the lifetime and refuses a token about to expire', () => {
    const entry = { token: 't', obtainedAt: 0, expiresAt: 3_600_000 };
    expect(needsRenewal(entry, 1_000_000)).toBe('fresh');
    expect(needsRenewal(entry, 2_900_000)).toBe('renew-soon');
    expect(needsRenewal(entry, 3_599_000)).toBe('expired');
    expect(needsRenewal({ token: 't', obtainedAt: 0 }, 1e12)).toBe('fresh');
  });

  it('reads a JWT exp claim', () => {
    const payload = Buffer.from(JSON.stringify({ exp: 1_900_000_000 })).toString('base64url');
    expect(jwtExpiry(`h.${payload}.s`)).toBe(1_900_000_000_000);
    expect(jwtExpiry('root-ddmlab-unknown-abc')).toBeUndefined();
  });
});
