import { describe, expect, it } from 'vitest';
import { digestValue, parseMultistatus } from '../../src/rucio/stores.js';
import { clientCertificateRefusal, isUntrustedServer } from '../../src/rucio/store-davs-tls.js';

describe('WebDAV answers', () => {
  it('reads PROPFIND multistatus whatever the namespace prefixes (Apache mixes D: and lp1:)', () => {
    const apache = `<?xml version="1.0" encoding="utf-8"?>
<D:multistatus xmlns:D="DAV:">
<D:response xmlns:lp2="http://apache.org/dav/props/" xmlns:lp1="DAV:">
<D:href>/dav/run1/</D:href>
<D:propstat><D:prop><lp1:resourcetype><D:collection/></lp1:resourcetype></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat>
</D:response>
<D:response xmlns:lp2="http://apache.org/dav/props/" xmlns:lp1="DAV:">
<D:href>/dav/run1/a%20b%c3%a9:c+d&amp;e</D:href>
<D:propstat><D:prop><lp1:resourcetype/><lp1:getcontentlength>100000</lp1:getcontentlength></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat>
</D:response>
</D:multistatus>`;
    expect(parseMultistatus(apache)).toEqual([
      { href: '/dav/run1/', collection: true },
      { href: '/dav/run1/a%20b%c3%a9:c+d&e', collection: false, bytes: 100000 },
    ]);
    // dCache-style lower-case prefix, and a 404 propstat for a property it does not have.
    const dcache = `<d:multistatus xmlns:d="DAV:"><d:response><d:href>/data/f</d:href>
<d:propstat><d:prop><d:getcontentlength>0</d:getcontentlength><d:resourcetype/></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat>
<d:propstat><d:prop><d:quota-used-bytes/></d:prop><d:status>HTTP/1.1 404 Not Found</d:status></d:propstat></d:response></d:multistatus>`;
    expect(parseMultistatus(dcache)).toEqual([{ href: '/data/f', collection: false, bytes: 0 }]);
  });

  it('reads one algorithm of an RFC 3230 Digest header, or nothing', () => {
    expect(digestValue('adler32=03da0195', 'adler32')).toBe('03da0195');
    expect(digestValue('md5=HUXZLQLMuI/KZ5KDcJPcOA==, ADLER32=0a0b0c0d', 'adler32')).toBe('0a0b0c0d');
    expect(digestValue('md5=HUXZLQLMuI/KZ5KDcJPcOA==', 'adler32')).toBeUndefined();
    expect(digestValue(undefined, 'adler32')).toBeUndefined();
    expect(digestValue(['sha-256=abc', 'adler32=00000001'], 'adler32')).toBe('00000001');
  });

  it('explains the TLS alerts a storage sends about the client certificate, and only those', () => {
    expect(clientCertificateRefusal('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED')).toMatch(/requires a client certificate/);
    expect(clientCertificateRefusal('ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED')).toMatch(/has expired/);
    expect(clientCertificateRefusal('ERR_SSL_TLSV1_ALERT_INTERNAL_ERROR')).toBe('the storage ended the TLS handshake with the alert "internal error"');
    expect(clientCertificateRefusal('ECONNRESET')).toBeUndefined();
    expect(clientCertificateRefusal(undefined)).toBeUndefined();
    expect(isUntrustedServer('SELF_SIGNED_CERT_IN_CHAIN')).toBe(true);
    expect(isUntrustedServer('ERR_TLS_CERT_ALTNAME_INVALID')).toBe(true);
    expect(isUntrustedServer('ECONNREFUSED')).toBe(false);
  });
});
