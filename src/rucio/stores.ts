/**
 * The storage clients besides the posix one, for code that builds one itself (tests, tools). Not
 * re-exported by index.ts: they load the AWS SDK, SigV4 signing and an XML parser, which a run
 * loads only for the protocol its RSE uses (storage-registry.ts imports each on first use).
 */
export { S3Store } from './store-s3.js';
export { S3DirectStore } from './store-s3-direct.js';
export { HttpStore } from './store-http.js';
export { DavStore, digestValue, parseMultistatus } from './store-davs.js';
export { CertificatePool } from './store-davs-pool.js';
export { locateS3Object } from './s3-location.js';
