import { StorageError } from './object-store.js';

/**
 * Bucket and key of an `s3://host:port/<bucket>/<key>` PFN: the first path segment is the bucket.
 * Its own module, so that the direct S3 engine finds them without loading the AWS SDK.
 */
export function locateS3Object(pfn: string): { bucket: string; key: string } {
  let url: URL;
  try {
    url = new URL(pfn);
  } catch {
    throw new StorageError('address', pfn, 'not a valid URL');
  }
  const path = decodeURIComponent(url.pathname).replace(/^\/+/, '');
  const slash = path.indexOf('/');
  if (slash <= 0 || slash === path.length - 1) {
    throw new StorageError('address', pfn, "expected s3://host:port/<bucket>/<key>; check the RSE protocol's prefix");
  }
  return { bucket: path.slice(0, slash), key: path.slice(slash + 1) };
}
