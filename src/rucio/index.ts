/**
 * wavefier's Rucio library: configuration, authentication, the REST client, storage protocols
 * and one-file upload/download. Knows nothing of queues, the CLI or strain data.
 */
export { loadRucioConfig, rucioConfigFrom, rucioConfigCandidates, authTypes } from './config.js';
export type { RucioConfig, RucioSettings, S3Settings, AuthType } from './config.js';
export { RucioClient, rucioNotFound } from './client.js';
export type {
  ClientStats,
  ContentEntry,
  Did,
  DidInfo,
  FileDid,
  ReplicaFile,
  ReplicaQuery,
  RucioClientOptions,
  RuleRequest,
} from './client.js';
export type { ReplicaRecord, ReplicaPfn } from './replicas.js';
export { replicasFromMetalink, rucioTimestamp } from './replicas.js';
export type { RseInfo, RseProtocol, Operation } from './rse.js';
export { protocolsFor } from './rse.js';
export { lfn2pfn, lfn2path, pfnFor } from './lfn2pfn.js';
export { uploadFile } from './upload.js';
export type { UploadRequest, UploadResult, UploadMode } from './upload.js';
export { downloadFile, fetchVerified, writeFileAtomically, safeDestination } from './download.js';
export type { DownloadOptions, DownloadResult, FetchedReplica, FetchOptions } from './download.js';
export type { ObjectStore, PutOptions, StoreCallOptions } from './object-store.js';
export { ObjectExistsError, ObjectNotFoundError, StorageError, StorageTransientError } from './object-store.js';
export { FileStore } from './store-file.js';
export { S3Store } from './store-s3.js';
export { S3DirectStore } from './store-s3-direct.js';
export type { S3DirectStoreOptions } from './store-s3-direct.js';
export type { S3StoreOptions } from './store-s3.js';
export { HttpStore } from './store-http.js';
export type { HttpStoreOptions, SignOperation } from './store-http.js';
export {
  ChecksumMismatchError,
  DidConflictError,
  RucioAccessDeniedError,
  RucioApiError,
  RucioAuthenticationError,
  RucioConflictError,
  RucioNotFoundError,
  RucioRequestError,
  RucioTransientError,
  RucioUnavailableError,
  exceptionClassOf,
  genericPolicyHint,
  isRucioError,
} from './errors.js';
export type { RucioError, RucioFailure } from './errors.js';
export { diagnoseRucio, skipped } from './diagnose.js';
export type { CheckResult } from './diagnose.js';
