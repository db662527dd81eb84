import h5disk from 'h5wasm/node';
import h5mem from 'h5wasm';
import type { Dataset, Entity, Group, File as H5File, OutputData } from 'h5wasm';
import type { File as H5FileClass } from 'h5wasm';

/**
 * The two h5wasm builds we use, initialised once at import. The Node build (`h5wasm/node`) reads the
 * real filesystem through NODERAWFS, so a slice of a 4096 s file costs a hyperslab read, not the
 * whole file. The default build keeps files in MEMFS, which is how a chunk becomes bytes without
 * touching the disk. Both get the "throwing" error handler: without it the HDF5 C library prints
 * multi-line HDF5-DIAG stacks to stderr and returns -1 instead of failing.
 */
const diskModule: { activate_throwing_error_handler(): number } = await h5disk.ready;
const memModule: { activate_throwing_error_handler(): number; FS: unknown } = await h5mem.ready;
diskModule.activate_throwing_error_handler();
memModule.activate_throwing_error_handler();

/** Opens files on the real filesystem. */
export const DiskFile: typeof H5FileClass = h5disk.File;
/** Creates and opens files in the in-memory filesystem `memFs`. */
export const MemFile: typeof H5FileClass = h5mem.File;
export const memFs = memModule.FS as MemFs;

interface MemFs {
  readFile(path: string): Uint8Array;
  writeFile(path: string, data: Uint8Array): void;
  unlink(path: string): void;
}

export type { Dataset, Entity, Group, H5File, OutputData };

export function isDataset(entity: Entity | null): entity is Dataset {
  return entity !== null && entity.constructor.name === 'Dataset';
}

export function isGroup(entity: Entity | null): entity is Group {
  return entity !== null && (entity.constructor.name === 'Group' || entity.constructor.name === 'File');
}

/**
 * The last, most specific line of an HDF5-DIAG stack ("... in H5F__super_read(): truncated file: eof = ..."),
 * reduced to its message, so a user sees one line instead of a C call stack.
 */
export function hdf5Reason(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const frames = [...text.matchAll(/#\d+: .*? in [\w.]+\(\): (.*)$/gm)].map((match) => match[1]?.trim() ?? '');
  const last = frames.at(-1);
  if (last !== undefined && last !== '') return last;
  const firstLine = text.split('\n')[0] ?? text;
  return firstLine.trim() === '' ? 'unknown HDF5 error' : firstLine.trim();
}

/** Strips the NUL padding of fixed-length HDF5 strings (older LOSC files store every string that way). */
export function cleanString(value: string): string {
  const nul = value.indexOf('\0');
  return (nul === -1 ? value : value.slice(0, nul)).trimEnd();
}

/** A scalar number from an HDF5 value: 64-bit integers arrive as BigInt, 1-element arrays as typed arrays. */
export function asNumber(value: OutputData | null | undefined): number | undefined {
  let scalar: unknown = value;
  if (ArrayBuffer.isView(scalar) && !(scalar instanceof DataView)) {
    const view = scalar as unknown as ArrayLike<number | bigint>;
    if (view.length !== 1) return undefined;
    scalar = view[0];
  } else if (Array.isArray(scalar)) {
    if (scalar.length !== 1) return undefined;
    scalar = scalar[0];
  }
  if (typeof scalar === 'bigint') {
    const converted = Number(scalar);
    return Number.isSafeInteger(converted) ? converted : undefined;
  }
  if (typeof scalar === 'number') return scalar;
  return undefined;
}

/** A scalar string from an HDF5 value, vlen or fixed-length, NUL padding removed. */
export function asString(value: OutputData | null | undefined): string | undefined {
  let scalar: unknown = value;
  if (Array.isArray(scalar)) {
    if (scalar.length !== 1) return undefined;
    scalar = scalar[0];
  }
  if (scalar instanceof Uint8Array) scalar = new TextDecoder().decode(scalar);
  return typeof scalar === 'string' ? cleanString(scalar) : undefined;
}

/** The value of an attribute, or undefined when it is absent or unreadable. */
export function attribute(entity: Dataset | Group, name: string): OutputData | undefined {
  if (!Object.prototype.hasOwnProperty.call(entity.attrs, name)) return undefined;
  try {
    return entity.get_attribute(name, false);
  } catch {
    return undefined;
  }
}

/** The value of a small dataset, or undefined when it is absent or not a dataset. */
export function datasetValue(root: Group, path: string): { value: OutputData | null; dataset: Dataset } | undefined {
  let entity: Entity | null;
  try {
    entity = root.get(path);
  } catch {
    return undefined;
  }
  if (!isDataset(entity)) return undefined;
  return { value: entity.value, dataset: entity };
}
