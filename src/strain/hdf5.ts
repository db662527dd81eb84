import './v8-tuning.js';
import h5wasm from 'h5wasm/node';
import type { Dataset, Entity, Group, File as H5File, OutputData } from 'h5wasm';
import type { File as H5FileClass } from 'h5wasm';

/**
 * The h5wasm Node build, initialised once at import. It reads the real filesystem through NODERAWFS,
 * so a slice of a 4096 s file costs a hyperslab read, not the whole file. One build only: each
 * instance of the HDF5 WebAssembly module costs ~40 MB of resident memory. It gets the "throwing"
 * error handler: without it the HDF5 C library prints multi-line HDF5-DIAG stacks to stderr and
 * returns -1 instead of failing.
 */
interface Hdf5Module {
  activate_throwing_error_handler(): number;
  get_dataset_data(fileId: bigint, path: string, count: bigint[] | null, offset: bigint[] | null, strides: bigint[] | null, pointer: bigint): number;
  _malloc(size: number): number;
  _free(pointer: number): void;
  HEAPU8: Uint8Array;
}

const module: Hdf5Module = await h5wasm.ready;
module.activate_throwing_error_handler();

export const hdf5Module: Hdf5Module = module;

/** Opens and creates files on the real filesystem. */
export const DiskFile: typeof H5FileClass = h5wasm.File;

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
  return attributeReader(entity)(name);
}

/**
 * The attributes of one entity, their names listed once: `attribute(entity, name)` lists every
 * attribute of the entity on each call (h5wasm's `attrs`), which was a quarter of a chunk's decode.
 */
export function attributeReader(entity: Dataset | Group): (name: string) => OutputData | undefined {
  const names = new Set(Object.keys(entity.attrs));
  return (name) => {
    if (!names.has(name)) return undefined;
    try {
      return entity.get_attribute(name, false);
    } catch {
      return undefined;
    }
  };
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
