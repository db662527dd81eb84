import type { Command } from 'commander';
import { UsageError } from '../common/errors.js';

/** A dataset as the rucio client names it: `scope:name`. */
export interface DatasetDid {
  scope: string;
  name: string;
}

/**
 * The dataset a command works on, from a `scope:name` positional argument (as `rucio` takes it) or
 * from --scope/--dataset. Both ways at once must name the same dataset; a --scope given on the
 * command line that differs from the DID's scope is an error, its default is not.
 */
export function datasetArgument(positional: string | undefined, command: Command, flags: { scope: string; dataset?: string | undefined }): DatasetDid | undefined {
  if (positional === undefined) return flags.dataset === undefined ? undefined : { scope: flags.scope, name: flags.dataset };
  const colon = positional.indexOf(':');
  const scope = colon < 0 ? flags.scope : positional.slice(0, colon);
  const name = colon < 0 ? positional : positional.slice(colon + 1);
  if (scope === '' || name === '' || name.includes(':')) {
    throw new UsageError(`invalid DID '${positional}': give scope:name, e.g. wavefier:my-dataset (or a name alone with --scope)`);
  }
  if (colon >= 0 && command.getOptionValueSource('scope') === 'cli' && flags.scope !== scope) {
    throw new UsageError(`the DID ${positional} names scope ${scope}, but --scope says ${flags.scope}: give one`);
  }
  if (flags.dataset !== undefined && flags.dataset !== name) {
    throw new UsageError(`the DID ${positional} names dataset ${name}, but --dataset says ${flags.dataset}: give one`);
  }
  return { scope, name };
}
