import type { DataQuality } from './strain-file.js';

/**
 * What to do with a chunk whose source marks some of its seconds as failing data quality:
 * `send` it like any other (the default: a rehearsal moves bytes, whatever they hold), or `skip` it
 * (logged as skipped, reason `dq`), as a pipeline that only ships analysable data would.
 */
export type DqPolicy = 'send' | 'skip';
export const dqPolicies: readonly DqPolicy[] = ['send', 'skip'];
export const defaultDqPolicy: DqPolicy = 'send';

/**
 * The DQ bits a second must have to pass: GWOSC's simple DQ mask has one bit per flag, set when the
 * second passes it. A second passes when it has data (`DATA`) and passes every category-1 flag
 * (`CBC_CAT1`, `BURST_CAT1`: the vetoes for data that must not be analysed at all). Without the flag
 * names, bit 0 (`DATA` in every GWOSC release) alone.
 */
export function requiredDqBits(dq: Pick<DataQuality, 'shortnames'>): number {
  const names = dq.shortnames;
  if (names === undefined || names.length === 0) return 1;
  let bits = 0;
  names.forEach((name, bit) => {
    if (name === 'DATA' || name.endsWith('_CAT1')) bits |= 2 ** bit;
  });
  return bits === 0 ? 1 : bits;
}

/** How many of the per-second DQ values lack one of the required bits. */
export function failedDqSeconds(mask: readonly number[], required: number): number {
  let failed = 0;
  for (const value of mask) if ((value & required) !== required) failed++;
  return failed;
}
