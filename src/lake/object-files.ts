import { createHash } from 'node:crypto';
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** What the fast paths serve of an object besides its bytes. */
export interface ObjectMeta {
  /** Hex md5 of the bytes the client sent (the ETag). */
  md5: string;
  /** Stored headers (Content-Type, x-amz-meta-*), in response spelling. */
  headers: Record<string, string>;
  size: number;
  /** Modification time of the object file in whole seconds (what Last-Modified shows; a small integer, unboxed). */
  mtime: number;
}

/** One shared object for the common case of no stored headers (the cache may hold 200,000 entries). */
const noHeaders: Record<string, string> = Object.freeze({});

/** s3rver's FilesystemStore.getResourcePath: where s3rver keeps `object`, `object.md5`, `metadata.json`. */
export type ResourcePath = (bucket: string, key: string, resource: string) => string;

function readAll(fd: number, size: number): Buffer {
  const bytes = Buffer.allocUnsafe(size);
  let offset = 0;
  while (offset < size) {
    const read = readSync(fd, bytes, offset, size - offset, offset);
    if (read === 0) break;
    offset += read;
  }
  return offset === size ? bytes : bytes.subarray(0, offset);
}

function removeIfPresent(path: string): void {
  // existsSync first: a failed unlinkSync costs an exception, and usually there is nothing to remove.
  if (existsSync(path)) {
    try {
      unlinkSync(path);
    } catch (error) {
      if (!isMissing(error)) throw error;
    }
  }
}

const isMissing = (error: unknown): boolean => (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';

/**
 * The lake's objects in s3rver's on-disk layout, read and written with synchronous fs calls: the
 * files are small (tens of KB) and local, so one blocking syscall costs less CPU than a FileHandle,
 * a threadpool round trip and the promises around it. Replacement is atomic (complete temporary
 * file, then rename), so a reader never sees a short object. Metadata of objects seen since start
 * is cached, so a GET is one open/read/close.
 */
export class ObjectFiles {
  private readonly cache = new Map<string, ObjectMeta>();
  private readonly knownDirectories = new Set<string>();
  private sequence = 0;

  constructor(
    private readonly resourcePath: ResourcePath,
    /**
     * About 250 bytes each; an evicted object's GET works out its md5 again. A consumer reads a
     * chunk seconds after it is written, so 8,192 (30 s at 240 chunks/s) keeps the hits and keeps
     * the lake's memory flat over a long run.
     */
    private readonly cacheLimit = 8_192,
  ) {}

  exists(bucket: string, key: string): boolean {
    // existsSync: no exception to build for the usual answer, "no".
    return this.cache.has(`${bucket}/${key}`) || existsSync(this.resourcePath(bucket, key, 'object'));
  }

  /**
   * Stores `stored` as the object, with `md5` as its ETag. `metadataJson` is what s3rver keeps in
   * metadata.json (undefined: none, which s3rver reads from a missing file). The md5 lives in the
   * cache only, unless `md5File` (the ETag is not the md5 of the stored bytes, i.e. an injected
   * write corruption): s3rver computes a missing `.md5` file from the object when it needs one, so
   * skipping it saves creating a file per PUT. A stale `.md5` or metadata.json of a previous
   * version is removed, which cannot exist when the object's directory has just been created.
   */
  write(bucket: string, key: string, stored: Buffer, md5: string, headers: Record<string, string>, metadataJson: string | undefined, md5File: boolean): ObjectMeta {
    const id = `${bucket}/${key}`;
    const objectPath = this.resourcePath(bucket, key, 'object');
    const directory = dirname(objectPath);
    let newDirectory = false;
    if (!this.knownDirectories.has(directory)) {
      // The first directory created, if any: then the object's own directory is new too.
      newDirectory = mkdirSync(directory, { recursive: true }) !== undefined;
      // Bounded: with Rucio's hash layout nearly every new object has a directory of its own, and
      // forgetting one costs a mkdir that finds it there.
      if (this.knownDirectories.size >= 4096) this.knownDirectories.clear();
      this.knownDirectories.add(directory);
    }
    const md5Path = `${objectPath}.md5`;
    const metadataPath = this.resourcePath(bucket, key, 'metadata.json');
    if (md5File) writeFileSync(md5Path, md5);
    else if (!newDirectory) removeIfPresent(md5Path);
    if (metadataJson !== undefined) writeFileSync(metadataPath, metadataJson);
    else if (!newDirectory) removeIfPresent(metadataPath);
    // pid + sequence: unique among lakes sharing a directory, no random bytes per PUT.
    const temporary = `${objectPath}.${process.pid}-${++this.sequence}.partial`;
    const fd = openSync(temporary, 'wx');
    let mtime: number;
    try {
      writeFileSync(fd, stored);
      mtime = Math.floor(fstatSync(fd).mtimeMs / 1000);
    } catch (error) {
      closeSync(fd);
      try {
        unlinkSync(temporary);
      } catch {
        // nothing to clean up
      }
      throw error;
    }
    closeSync(fd);
    renameSync(temporary, objectPath);
    const meta: ObjectMeta = { md5, headers: Object.keys(headers).length === 0 ? noHeaders : headers, size: stored.length, mtime };
    this.remember(id, meta);
    return meta;
  }

  /**
   * The object's metadata and (unless `head`) its bytes; undefined when there is no such object (or
   * for a HEAD, its md5 is not known without reading it: s3rver answers that one).
   */
  read(bucket: string, key: string, head: boolean, parseHeaders: (metadataJson: string) => Record<string, string>): { meta: ObjectMeta; bytes: Buffer } | undefined {
    const id = `${bucket}/${key}`;
    const objectPath = this.resourcePath(bucket, key, 'object');
    const cached = this.cache.get(id);
    if (cached !== undefined && !head) {
      let bytes: Buffer;
      try {
        bytes = readFileSync(objectPath);
      } catch (error) {
        if (isMissing(error)) return undefined;
        throw error;
      }
      // The size is the file's own: an object tampered with on disk is served as it is.
      return { meta: bytes.length === cached.size ? cached : { ...cached, size: bytes.length }, bytes };
    }
    let fd: number;
    try {
      fd = openSync(objectPath, 'r');
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
    try {
      const stats = fstatSync(fd);
      const bytes = head ? Buffer.alloc(0) : readAll(fd, stats.size);
      let meta = cached;
      if (meta === undefined) {
        let md5: string | undefined;
        try {
          md5 = readFileSync(`${objectPath}.md5`, 'utf8');
        } catch (error) {
          if (!isMissing(error)) throw error;
        }
        // No .md5 file: the ETag is the md5 of the stored bytes (for a HEAD, s3rver works it out).
        if (md5 === undefined && head) return undefined;
        md5 ??= createHash('md5').update(bytes).digest('hex');
        let json = '{}';
        try {
          json = readFileSync(this.resourcePath(bucket, key, 'metadata.json'), 'utf8');
        } catch (error) {
          if (!isMissing(error)) throw error;
        }
        const headers = parseHeaders(json);
        meta = { md5, headers: Object.keys(headers).length === 0 ? noHeaders : headers, size: stats.size, mtime: Math.floor(stats.mtimeMs / 1000) };
        this.remember(id, meta);
      }
      return { meta: { ...meta, size: head ? stats.size : bytes.length, mtime: Math.floor(stats.mtimeMs / 1000) }, bytes };
    } finally {
      closeSync(fd);
    }
  }

  /** Drops what is known of an object (deleted or rewritten by s3rver's own code). */
  forget(bucket: string, key: string): void {
    this.cache.delete(`${bucket}/${key}`);
  }

  /** Directories may have been removed (s3rver deletes empty ones). */
  forgetDirectories(): void {
    this.knownDirectories.clear();
  }

  private remember(id: string, meta: ObjectMeta): void {
    if (this.cache.size >= this.cacheLimit && !this.cache.has(id)) this.cache.delete(this.cache.keys().next().value ?? '');
    this.cache.set(id, meta);
  }
}
