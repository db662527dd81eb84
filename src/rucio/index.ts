/**
 * wavefier's Rucio library: configuration, authentication, the REST client, storage protocols
 * and one-file upload/download. Knows nothing of queues, the CLI or strain data.
 */
export { loadRucioConfig, rucioConfigFrom, rucioConfigCandidates } from './config.js';
export type { RucioConfig, RucioSettings, S3Settings } from './config.js';
export { authTypes, type AuthType } from './auth-types.js';
export { RucioClient } from './client.js';
export { CatalogClock, type ClockOffset } from './catalog-clock.js';
export type { ClientStats } from './client.js';
export type { RucioClientOptions } from './client-rest.js';
export type { ContentEntry, Did, DidInfo, FileDid, RuleInfo, RuleRequest } from './client-dids.js';
export { attachEndpoint, attachProbeEndpoint } from './client-dids.js';
export type { ReplicaFile, ReplicaQuery } from './client-replicas.js';
export type { ReplicaRecord, ReplicaPfn } from './replicas.js';
export { rucioTimestamp } from './replicas.js';
export type { RseInfo, RseProtocol, Operation, SignUrlRequest } from './rse.js';
export { protocolsFor } from './rse.js';
export { lfn2pfn, lfn2path, pfnFor } from './lfn2pfn.js';
export { uploadFile } from './upload.js';
export { AttachBatcher } from './attach-batcher.js';
export type { AttachBatcherOptions, AttachBatcherStats } from './attach-batcher.js';
export { warmUpReplicaParsing, warmUpStorage } from './warm-up.js';
export type { UploadRequest, UploadResult, UploadMode } from './upload.js';
export { downloadFile, fetchVerified, writeFileAtomically, safeDestination } from './download.js';
export type { CorruptRead, DownloadOptions, DownloadResult, FetchedReplica, FetchOptions } from './download.js';
export type { ObjectStore, PutOptions, StoreCallOptions } from './object-store.js';
export { ObjectExistsError, ObjectNotFoundError, StorageAccessError, StorageError, StorageTransientError } from './object-store.js';
export { FileStore } from './store-file.js';
// The other storage clients (S3 with the AWS SDK or signed here, WebDAV, presigned https) are in
// stores.ts: the registry loads each on first use, so importing this module loads none of them.
export type { S3DirectStoreOptions } from './store-s3-direct.js';
export type { S3StoreOptions } from './store-s3.js';
export type { DavStoreOptions } from './store-davs.js';
export { BearerToken, StorageCredentials, checkCertificateValid, describePresented } from './storage-credentials.js';
export type { StorageCertificate } from './storage-credentials.js';
export type { HttpStoreOptions, SignOperation } from './store-http.js';
export {
  ChecksumMismatchError,
  DidConflictError,
  RucioAccessDeniedError,
  RucioApiError,
  RucioAuthenticationError,
  RucioConflictError,
  RucioNotFoundError,
  RucioQuotaError,
  RucioRequestError,
  RucioTransientError,
  RucioUnavailableError,
  exceptionClassOf,
  genericPolicyHint,
  isRucioError,
  rucioNotFound,
} from './errors.js';
export type { RucioError, RucioFailure } from './errors.js';
export { StorageRegistry } from './storage-registry.js';
export type { RseLookup, SignUrl, StorageRegistryOptions, StorageSettings, StorageTls, WriteTarget } from './storage-registry.js';
export { TlsConnections } from './tls.js';
export type { ClientCertificate, TlsOptions } from './tls.js';
export { diagnoseRucio, skipped } from './diagnose.js';
export type { CheckResult } from './diagnose.js';
