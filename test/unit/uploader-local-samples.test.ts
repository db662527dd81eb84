import { describe, expect, it } from 'vitest';
import { LocalSamples } from '../../src/uploader/local-samples.js';

const samples = (value: number): Float64Array => new Float64Array(4).fill(value);

describe('LocalSamples (the samples a producer hands to the workers of its own process)', () => {
  it('hands each chunk out once, by run and sequence number', () => {
    const local = new LocalSamples();
    local.put('run-a', 1, samples(1));
    local.put('run-b', 1, samples(2));
    expect(local.take('run-a', 1)?.[0]).toBe(1);
    expect(local.take('run-a', 1)).toBeUndefined();
    expect(local.take('run-b', 1)?.[0]).toBe(2);
    expect(local.size).toBe(0);
  });

  it('holds at most its limit: the oldest entries (jobs other processes took) go first', () => {
    const local = new LocalSamples(3);
    for (let seq = 0; seq < 5; seq++) local.put('run', seq, samples(seq));
    expect(local.size).toBe(3);
    expect(local.take('run', 0)).toBeUndefined();
    expect(local.take('run', 1)).toBeUndefined();
    expect([2, 3, 4].map((seq) => local.take('run', seq)?.[0])).toEqual([2, 3, 4]);
  });

  it('keeps the newest samples of a chunk queued again, and forgets samples whose job was taken back', () => {
    const local = new LocalSamples(2);
    local.put('run', 7, samples(1));
    local.put('run', 8, samples(8));
    local.put('run', 7, samples(2));
    local.put('run', 9, samples(9));
    expect(local.take('run', 8)).toBeUndefined();
    expect(local.take('run', 7)?.[0]).toBe(2);
    local.drop('run', 9);
    expect(local.take('run', 9)).toBeUndefined();
  });
});
