/**
 * The samples a producer hands to the upload workers of its own process, beside the copy it keeps in
 * Redis: a local worker takes them from here instead of reading 32 KiB back from Redis per chunk
 * (measured in the 14,400-chunk replay: the read and its copies were ~0.1 ms of the upload's CPU
 * per chunk, and their garbage a share of its collections).
 *
 * Redis stays the record: the producer still stores every chunk's samples there (workers on other
 * hosts, a resumed run and a retried job read them from there), and the worker that finds none here
 * reads Redis as before. An entry is taken once: a later attempt of the same job, or a duplicate
 * delivery, goes to Redis, whose answer says whether the chunk still needs uploading. Jobs that
 * another process's workers take leave their entry here; the oldest entries go first once `limit`
 * is reached, so this holds at most `limit` chunks (8 MiB at 4 kHz with the default).
 */
export class LocalSamples {
  private readonly byChunk = new Map<string, Float64Array>();

  constructor(private readonly limit = 256) {}

  put(run: string, seq: number, samples: Float64Array): void {
    const key = `${run}/${seq}`;
    this.byChunk.delete(key);
    if (this.byChunk.size >= this.limit) {
      const oldest = this.byChunk.keys().next();
      if (oldest.done !== true) this.byChunk.delete(oldest.value);
    }
    this.byChunk.set(key, samples);
  }

  /** The chunk's samples if this process's producer queued them and no worker has taken them yet. */
  take(run: string, seq: number): Float64Array | undefined {
    const key = `${run}/${seq}`;
    const samples = this.byChunk.get(key);
    if (samples !== undefined) this.byChunk.delete(key);
    return samples;
  }

  /** Samples whose job was taken back (Redis refused them): no worker may use them. */
  drop(run: string, seq: number): void {
    this.byChunk.delete(`${run}/${seq}`);
  }

  get size(): number {
    return this.byChunk.size;
  }
}
