import { connect } from 'node:tls';
import type { TlsOptions } from './tls.js';

/**
 * Why a TLS connection to storage failed, in words a user can act on. With TLS 1.3 a server that
 * refuses the client certificate sends its alert after the client already considers the handshake
 * done; undici then loses the alert and reports only "other side closed" (UND_ERR_SOCKET). A
 * second, plain TLS connection with the same material reads the alert, so the message can say
 * "certificate expired" instead of "connection closed".
 */

/** What the server's TLS alert says about our client certificate, by Node's error code. */
const alertMeanings: Record<string, string> = {
  ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED: 'the storage requires a client certificate in the TLS handshake (alert "certificate required")',
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED: 'the storage says the client certificate has expired (alert "certificate expired")',
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
    'the storage did not accept the client certificate (alert "certificate unknown"): a proxy certificate on a server that does not accept proxies, or a certificate it cannot verify',
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA:
    'the storage does not trust the CA of the client certificate (alert "unknown ca"); a proxy must be sent with the user certificate that signed it (the whole proxy file)',
  ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE: 'the storage refused the client certificate (alert "bad certificate")',
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED: 'the storage says the client certificate was revoked (alert "certificate revoked")',
  ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE: 'the storage does not support the client certificate (alert "unsupported certificate")',
  ERR_SSL_TLSV1_ALERT_ACCESS_DENIED: 'the storage denied access to the client certificate (alert "access denied")',
  ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE:
    'the storage ended the TLS handshake (alert "handshake failure"); TLS 1.2 servers answer a missing or refused client certificate this way',
  ERR_SSL_TLSV1_ALERT_DECRYPT_ERROR: 'the storage could not verify the client certificate\'s signature (alert "decrypt error"): does the key belong to the certificate?',
};

/** Node codes for a server certificate this client does not trust. */
const untrustedServerCodes = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'HOSTNAME_MISMATCH',
]);

/** The meaning of a TLS alert the server sent about our certificate, or undefined for any other code. */
export function clientCertificateRefusal(code: string | undefined): string | undefined {
  if (code === undefined) return undefined;
  const known = alertMeanings[code];
  if (known !== undefined) return known;
  const alert = /^ERR_SSL_(?:SSLV3|TLSV1|TLSV13)_ALERT_(.+)$/.exec(code)?.[1];
  return alert === undefined ? undefined : `the storage ended the TLS handshake with the alert "${alert.toLowerCase().replaceAll('_', ' ')}"`;
}

/** Whether `code` says the storage's own certificate was not trusted (or not for this host name). */
export function isUntrustedServer(code: string | undefined): boolean {
  return code !== undefined && untrustedServerCodes.has(code);
}

/**
 * Connects once more with `tls` (CA, client certificate, key) and sends a small request, to read the
 * alert a TLS 1.3 server sends after the handshake. Resolves to Node's error code of the alert, or
 * undefined when the server answered (or closed) without one.
 */
export function readTlsAlert(url: URL, tls: TlsOptions, timeoutMs = 10_000): Promise<string | undefined> {
  return new Promise((resolve) => {
    const port = url.port === '' ? 443 : Number(url.port);
    const socket = connect({
      host: url.hostname,
      port,
      servername: /^[\d.]+$|:/.test(url.hostname) ? undefined : url.hostname,
      ...(tls.ca === undefined ? {} : { ca: tls.ca }),
      ...(tls.cert === undefined ? {} : { cert: tls.cert }),
      ...(tls.key === undefined ? {} : { key: tls.key }),
      rejectUnauthorized: tls.rejectUnauthorized ?? true,
    });
    let settled = false;
    const finish = (code: string | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(code);
    };
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    socket.once('secureConnect', () => {
      socket.write(`OPTIONS ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nConnection: close\r\n\r\n`);
    });
    // Any bytes of an HTTP answer: the connection itself is accepted.
    socket.once('data', () => finish(undefined));
    socket.once('error', (error: NodeJS.ErrnoException) => finish(error.code));
    socket.once('close', () => finish(undefined));
  });
}
