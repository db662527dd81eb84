/**
 * Concurrent uploads in one process when `--workers` is not given. A paced run needs few: one chunk
 * a second (or ten) each takes milliseconds. Unpaced, the catalog's fixed cost per attach request
 * dominates (a real Rucio spends about as long on one attach of 10 files as on one of 1), and the
 * files that finish their PUT while an attach is out share the next one: four uploads in flight
 * make batches of at most three, sixteen make batches that amortise the call.
 */
export function defaultUploadWorkers(asFastAsPossible: boolean): number {
  return asFastAsPossible ? 16 : 4;
}
