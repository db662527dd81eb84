import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';

/**
 * X.509 certificates for the lake's TLS storage endpoint: a CA of the lake directory (kept across
 * restarts, so a client that trusts it once keeps trusting it) and a server certificate it signs for
 * the host the lake listens on. Node can parse certificates but not make them, and the two shapes
 * needed are fixed, so they are written here as DER (RFC 5280), with P-256 ECDSA keys.
 */

/** A certificate and its private key, both PEM. */
export interface PemPair {
  cert: string;
  key: string;
}

// --- DER ---------------------------------------------------------------------------------------

function derLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function der(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);
}

const sequence = (...items: Buffer[]): Buffer => der(0x30, ...items);
const set = (...items: Buffer[]): Buffer => der(0x31, ...items);
const utf8 = (text: string): Buffer => der(0x0c, Buffer.from(text, 'utf8'));
const octets = (bytes: Buffer): Buffer => der(0x04, bytes);
const bitString = (bytes: Buffer, unusedBits = 0): Buffer => der(0x03, Buffer.from([unusedBits]), bytes);
const explicit = (n: number, inner: Buffer): Buffer => der(0xa0 | n, inner);
const trueValue = der(0x01, Buffer.from([0xff]));

/**
 * A non-negative big-endian number as a DER INTEGER: minimal, so every leading zero byte goes (OpenSSL
 * refuses `00 00 ..` and `00 <7f` as "illegal padding"), and one comes back when the top bit is set.
 */
export function derPositiveInteger(bytes: Buffer): Buffer {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start += 1;
  const trimmed = bytes.length === 0 ? Buffer.from([0]) : bytes.subarray(start);
  return der(0x02, (trimmed[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed);
}

function oid(dotted: string): Buffer {
  const [first = 0, second = 0, ...rest] = dotted.split('.').map(Number);
  const bytes: number[] = [40 * first + second];
  for (const arc of rest) {
    const groups: number[] = [];
    for (let value = arc; ; value = Math.floor(value / 128)) {
      groups.unshift(value % 128);
      if (value < 128) break;
    }
    bytes.push(...groups.map((group, i) => (i < groups.length - 1 ? group | 0x80 : group)));
  }
  return der(0x06, Buffer.from(bytes));
}

/** UTCTime (RFC 5280: for years before 2050), else GeneralizedTime. */
function time(date: Date): Buffer {
  const iso = date.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  return date.getUTCFullYear() < 2050 ? der(0x17, Buffer.from(`${iso.slice(2)}Z`)) : der(0x18, Buffer.from(`${iso}Z`));
}

const oids = {
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extendedKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  subjectAltName: '2.5.29.17',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
};

/** A distinguished name: one attribute per RDN, in order. */
type DistinguishedName = [oid: string, value: string][];

const encodeName = (name: DistinguishedName): Buffer => sequence(...name.map(([type, value]) => set(sequence(oid(type), utf8(value)))));

function extension(type: string, critical: boolean, value: Buffer): Buffer {
  return critical ? sequence(oid(type), trueValue, octets(value)) : sequence(oid(type), octets(value));
}

/** RFC 5280's method 1 key identifier: SHA-1 of the subjectPublicKey bits. */
function keyIdentifier(publicKey: KeyObject): Buffer {
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  // The EC point is the last 65 bytes of a P-256 SubjectPublicKeyInfo (uncompressed form).
  return createHash('sha1').update(spki.subarray(spki.length - 65)).digest();
}

interface CertificateFields {
  subject: DistinguishedName;
  issuer: DistinguishedName;
  publicKey: KeyObject;
  signingKey: KeyObject;
  notBefore: Date;
  notAfter: Date;
  extensions: Buffer[];
}

function certificatePem(fields: CertificateFields): string {
  const algorithm = sequence(oid(oids.ecdsaWithSha256));
  const tbs = sequence(
    explicit(0, der(0x02, Buffer.from([2]))),
    derPositiveInteger(randomBytes(16)),
    algorithm,
    encodeName(fields.issuer),
    sequence(time(fields.notBefore), time(fields.notAfter)),
    encodeName(fields.subject),
    fields.publicKey.export({ type: 'spki', format: 'der' }),
    explicit(3, sequence(...fields.extensions)),
  );
  const signature = sign('sha256', tbs, fields.signingKey);
  const body = sequence(tbs, algorithm, bitString(signature)).toString('base64');
  return `-----BEGIN CERTIFICATE-----\n${body.replace(/.{1,64}/g, '$&\n')}-----END CERTIFICATE-----\n`;
}

const newKeyPair = (): { publicKey: KeyObject; privateKey: KeyObject } => generateKeyPairSync('ec', { namedCurve: 'P-256' });
const pemKey = (key: KeyObject): string => key.export({ type: 'pkcs8', format: 'pem' }).toString();
const dayMs = 86_400_000;

/** A new CA for a lake directory, valid for ten years. */
export function createLakeCa(lakeName: string, now = new Date()): PemPair {
  const { publicKey, privateKey } = newKeyPair();
  const name: DistinguishedName = [[oids.organization, 'wavefier'], [oids.commonName, `wavefier lake storage CA ${lakeName}`]];
  const keyId = keyIdentifier(publicKey);
  const cert = certificatePem({
    subject: name,
    issuer: name,
    publicKey,
    signingKey: privateKey,
    notBefore: new Date(now.getTime() - dayMs),
    notAfter: new Date(now.getTime() + 3650 * dayMs),
    extensions: [
      extension(oids.basicConstraints, true, sequence(trueValue)),
      // keyCertSign and cRLSign (bits 5 and 6).
      extension(oids.keyUsage, true, bitString(Buffer.from([0x06]), 1)),
      extension(oids.subjectKeyIdentifier, false, octets(keyId)),
    ],
  });
  return { cert, key: pemKey(privateKey) };
}

/** A server certificate signed by `ca` for `hosts` (IP addresses and DNS names), valid for a year. */
export function createServerCertificate(ca: PemPair, hosts: readonly string[], now = new Date()): PemPair {
  const caCert = new X509Certificate(ca.cert);
  const caKey = createPrivateKey(ca.key);
  const { publicKey, privateKey } = newKeyPair();
  const names = hosts.map((host) => {
    const ip = isIP(host);
    if (ip === 4) return der(0x87, Buffer.from(host.split('.').map(Number)));
    if (ip === 6) return der(0x87, ipv6Bytes(host));
    return der(0x82, Buffer.from(host, 'ascii'));
  });
  const cert = certificatePem({
    subject: [[oids.organization, 'wavefier'], [oids.commonName, hosts[0] ?? 'localhost']],
    issuer: parseSubject(caCert),
    publicKey,
    signingKey: caKey,
    notBefore: new Date(now.getTime() - dayMs),
    notAfter: new Date(Math.min(now.getTime() + 365 * dayMs, new Date(caCert.validTo).getTime())),
    extensions: [
      extension(oids.basicConstraints, true, sequence()),
      // digitalSignature (bit 0).
      extension(oids.keyUsage, true, bitString(Buffer.from([0x80]), 7)),
      extension(oids.extendedKeyUsage, false, sequence(oid(oids.serverAuth))),
      extension(oids.subjectAltName, false, sequence(...names)),
      extension(oids.subjectKeyIdentifier, false, octets(keyIdentifier(publicKey))),
      extension(oids.authorityKeyIdentifier, false, sequence(der(0x80, keyIdentifier(createPublicKey(ca.cert))))),
    ],
  });
  return { cert, key: pemKey(privateKey) };
}

function ipv6Bytes(address: string): Buffer {
  const [head = '', tail = ''] = address.split('::');
  const groups = (part: string): string[] => (part === '' ? [] : part.split(':'));
  const left = groups(head);
  const right = address.includes('::') ? groups(tail) : [];
  const all = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return Buffer.from(all.flatMap((group) => [Number.parseInt(group, 16) >> 8, Number.parseInt(group, 16) & 0xff]));
}

/** The subject of a certificate this module made (O and CN), back as a name. */
function parseSubject(cert: X509Certificate): DistinguishedName {
  const fields = Object.fromEntries(cert.subject.split('\n').map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
  return [[oids.organization, fields.O ?? ''], [oids.commonName, fields.CN ?? '']];
}

/**
 * The file name OpenSSL looks a CA up by in a certificate directory (`openssl x509 -hash`, for
 * X509_CERT_DIR / CApath): the first four bytes, little-endian, of the SHA-1 of the subject in
 * OpenSSL's canonical form (each value trimmed, inner whitespace collapsed, ASCII lower-cased, as a
 * UTF8String; the RDN sets without the outer SEQUENCE), then `.0`.
 */
export function subjectHashName(certPem: string): string {
  const fields = parseSubject(new X509Certificate(certPem));
  const canonical = Buffer.concat(
    fields.map(([type, value]) => set(sequence(oid(type), utf8(value.trim().replace(/\s+/g, ' ').replace(/[A-Z]/g, (c) => c.toLowerCase()))))),
  );
  const digest = createHash('sha1').update(canonical).digest();
  return `${digest.readUInt32LE(0).toString(16).padStart(8, '0')}.0`;
}
