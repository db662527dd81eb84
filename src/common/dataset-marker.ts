/**
 * How wavefier marks the datasets it creates, so that `wavefier clean` can tell them from datasets
 * it must not erase: a DID metadata value set when the dataset is created. Rucio 1.31's default
 * metadata plugin (DID_COLUMN) only stores the columns of its dids table, and `campaign` is the
 * free-text column (50 characters) that no Rucio daemon reads and that the generic schema does not
 * validate (unlike `datatype`); a server with the JSON plugin stores it the same way.
 */
export const datasetMarker = { key: 'campaign', value: 'wavefier-rehearsal' } as const;

/** Whether DID metadata (as `GET /dids/{scope}/{name}/meta` answers) carries the marker. */
export function hasDatasetMarker(meta: Record<string, unknown>): boolean {
  return meta[datasetMarker.key] === datasetMarker.value;
}
