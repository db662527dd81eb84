import { amzDate, credentialScope, deriveSigningKey, sigV4Algorithm, sigV4Signature } from './sigv4.js';

export interface S3SigningCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** Headers SigV4 never signs (a proxy or the HTTP layer may change them), as the AWS SDKs list them. */
const unsignable = new Set(['authorization', 'cache-control', 'connection', 'expect', 'from', 'keep-alive', 'max-forwards', 'pragma', 'referer', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'user-agent', 'x-amzn-trace-id']);

/**
 * AWS Signature Version 4 in the Authorization header, for the S3 requests of S3DirectStore: the
 * same signature as the SDK's signer (@smithy/signature-v4, which a test compares it with) for a
 * request whose path is already URI-encoded, without a query and whose payload hash is in its
 * `x-amz-content-sha256` header, at about a quarter of its CPU: the SDK's signer clones the request,
 * works through promises and computes an HMAC per request for its signing-key cache, which showed in
 * the profile of every chunk's PUT (upload) and GET (download worker). The signing key is derived
 * once per day. The canonical forms are sigv4.ts's, which the lake's S3 server checks with.
 */
export class S3RequestSigner {
  private keyDate = '';
  private key: Buffer = Buffer.alloc(0);

  constructor(
    private readonly credentials: S3SigningCredentials,
    private readonly region: string,
    private readonly service = 's3',
  ) {}

  /**
   * The headers to send: `headers` (lowercase names, `host` and `x-amz-content-sha256` among them)
   * with x-amz-date, the session token if any, and the authorization.
   */
  sign(method: string, path: string, headers: Record<string, string>, date: Date = new Date()): Record<string, string> {
    const longDate = amzDate(date);
    const shortDate = longDate.slice(0, 8);
    const signed: Record<string, string> = { ...headers, 'x-amz-date': longDate };
    if (this.credentials.sessionToken) signed['x-amz-security-token'] = this.credentials.sessionToken;
    const signedHeaders = Object.keys(signed)
      .filter((name) => !unsignable.has(name) && !name.startsWith('proxy-') && !name.startsWith('sec-'))
      .sort();
    const request = { method, path, query: '', headers: signed, signedHeaders, payloadHash: signed['x-amz-content-sha256'] ?? '', amzDate: longDate, region: this.region, service: this.service };
    if (this.keyDate !== shortDate) {
      this.key = deriveSigningKey(this.credentials.secretAccessKey, shortDate, this.region, this.service);
      this.keyDate = shortDate;
    }
    const signature = sigV4Signature(request, this.key);
    signed.authorization = `${sigV4Algorithm} Credential=${this.credentials.accessKeyId}/${credentialScope(request)}, SignedHeaders=${signedHeaders.join(';')}, Signature=${signature}`;
    return signed;
  }
}
