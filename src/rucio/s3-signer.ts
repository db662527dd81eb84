import { createHash, createHmac } from 'node:crypto';

export interface S3SigningCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** Headers SigV4 never signs (a proxy or the HTTP layer may change them), as the AWS SDKs list them. */
const unsignable = new Set(['authorization', 'cache-control', 'connection', 'expect', 'from', 'keep-alive', 'max-forwards', 'pragma', 'referer', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'user-agent', 'x-amzn-trace-id']);

const hmac = (key: Buffer | string, text: string): Buffer => createHmac('sha256', key).update(text, 'utf8').digest();

/**
 * AWS Signature Version 4 in the Authorization header, for the S3 requests of S3DirectStore: the
 * same signature as the SDK's signer (@smithy/signature-v4, which a test compares it with) for a
 * request whose path is already URI-encoded, without a query and whose payload hash is in its
 * `x-amz-content-sha256` header, at about a quarter of its CPU: the SDK's signer clones the request,
 * works through promises and computes an HMAC per request for its signing-key cache, which showed in
 * the profile of every chunk's PUT (upload) and GET (download worker). The signing key is derived
 * once per day.
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
    const longDate = date.toISOString().replace(/[-:]|\.\d{3}/g, '');
    const shortDate = longDate.slice(0, 8);
    const signed: Record<string, string> = { ...headers, 'x-amz-date': longDate };
    if (this.credentials.sessionToken) signed['x-amz-security-token'] = this.credentials.sessionToken;
    const names = Object.keys(signed)
      .filter((name) => !unsignable.has(name) && !name.startsWith('proxy-') && !name.startsWith('sec-'))
      .sort();
    let canonicalHeaders = '';
    for (const name of names) {
      canonicalHeaders += `${name}:${(signed[name] ?? '').replace(/[\r\n]/g, ' ').replace(/[ \t]+/g, ' ').replace(/^ | $/g, '')}\n`;
    }
    const signedHeaders = names.join(';');
    const canonicalRequest = `${method}\n${path}\n\n${canonicalHeaders}\n${signedHeaders}\n${signed['x-amz-content-sha256'] ?? ''}`;
    const scope = `${shortDate}/${this.region}/${this.service}/aws4_request`;
    const stringToSign = `AWS4-HMAC-SHA256\n${longDate}\n${scope}\n${createHash('sha256').update(canonicalRequest, 'utf8').digest('hex')}`;
    if (this.keyDate !== shortDate) {
      this.key = hmac(hmac(hmac(hmac(`AWS4${this.credentials.secretAccessKey}`, shortDate), this.region), this.service), 'aws4_request');
      this.keyDate = shortDate;
    }
    const signature = createHmac('sha256', this.key).update(stringToSign, 'utf8').digest('hex');
    signed.authorization = `AWS4-HMAC-SHA256 Credential=${this.credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
    return signed;
  }
}
