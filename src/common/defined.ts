/** The keys of T whose value may be undefined, made optional-and-absent instead (for exactOptionalPropertyTypes). */
export type Defined<T> = { [K in keyof T as undefined extends T[K] ? never : K]: T[K] } & {
  [K in keyof T as undefined extends T[K] ? K : never]?: Exclude<T[K], undefined>;
};

/**
 * The object without its undefined-valued keys: `{ ...definedProps({ a, b }) }` instead of
 * `...(a === undefined ? {} : { a })` per key, for interfaces under exactOptionalPropertyTypes and for
 * JSON records that should not carry `"a": undefined`.
 */
export function definedProps<T extends object>(value: T): Defined<T> {
  const kept: Record<string, unknown> = {};
  for (const [key, entry] of Object.entries(value)) if (entry !== undefined) kept[key] = entry;
  return kept as Defined<T>;
}
