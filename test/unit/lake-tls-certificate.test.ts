/**
 * The lake's storage certificates: what OpenSSL (the library of the official client, gfal2/davix and
 * Python's ssl) and Node make of them, and a real TLS handshake verified against the lake's CA.
 */
import { execFile, execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { createLakeCa, createServerCertificate, derPositiveInteger, subjectHashName } from '../../src/lake/tls-certificate.js';
import { scratchDirPerTest } from '../helpers/scratch.js';

const scratch = scratchDirPerTest('wavefier-lake-tls-');
const run = promisify(execFile);
const openssl = (args: string[]): string => execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

describe('lake storage certificates', () => {
  it('a CA and a server certificate that OpenSSL verifies for TLS servers, with the subject hash OpenSSL computes', () => {
    const ca = createLakeCa('/srv/lake');
    const server = createServerCertificate(ca, ['127.0.0.1', 'localhost', '::1']);
    const dir = scratch.path;
    writeFileSync(join(dir, 'ca.pem'), ca.cert);
    writeFileSync(join(dir, 'server.pem'), server.cert);
    expect(openssl(['verify', '-CAfile', join(dir, 'ca.pem'), '-purpose', 'sslserver', '-x509_strict', join(dir, 'server.pem')])).toMatch(/server\.pem: OK/);
    expect(subjectHashName(ca.cert)).toBe(`${openssl(['x509', '-hash', '-noout', '-in', join(dir, 'ca.pem')]).trim()}.0`);

    const parsed = new X509Certificate(server.cert);
    expect(parsed.ca).toBe(false);
    expect(new X509Certificate(ca.cert).ca).toBe(true);
    expect(parsed.checkIssued(new X509Certificate(ca.cert))).toBe(true);
    expect(parsed.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(parsed.checkIP('0:0:0:0:0:0:0:1')).toBe('0:0:0:0:0:0:0:1');
    expect(parsed.checkHost('localhost')).toBe('localhost');
    expect(parsed.checkIP('127.0.0.2')).toBeUndefined();
  });

  it('a client trusting the CA completes a handshake with a server using the certificate; one that does not refuses it', async () => {
    const ca = createLakeCa('/srv/lake');
    const certificate = createServerCertificate(ca, ['127.0.0.1']);
    const server = createServer({ cert: certificate.cert, key: certificate.key }, (_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/`;
      const dir = scratch.path;
      writeFileSync(join(dir, 'ca.pem'), ca.cert);
      // curl verifies with OpenSSL, as gfal2/davix and Python's ssl do.
      expect((await run('curl', ['-sS', '--max-time', '20', '--cacert', join(dir, 'ca.pem'), url], { encoding: 'utf8' })).stdout).toBe('ok');
      writeFileSync(join(dir, 'other.pem'), createLakeCa('/elsewhere').cert);
      await expect(run('curl', ['-sS', '--max-time', '20', '--cacert', join(dir, 'other.pem'), url], { encoding: 'utf8' })).rejects.toThrow(/certificate/);
    } finally {
      server.close();
    }
  });
});

describe('DER integers of the certificates (serial numbers are random bytes)', () => {
  const hex = (bytes: number[]): string => derPositiveInteger(Buffer.from(bytes)).toString('hex');
  it('are minimal whatever the leading bytes: no run of zero bytes, a zero byte only before a set top bit', () => {
    expect(hex([0, 0, 0x05, 0x01])).toBe('02020501');
    expect(hex([0, 0, 0, 0x80])).toBe('02020080');
    expect(hex([0x80, 0x01])).toBe('0203008001');
    expect(hex([0x7f])).toBe('02017f');
    expect(hex([0, 0])).toBe('020100');
    expect(hex([])).toBe('020100');
  });
});
