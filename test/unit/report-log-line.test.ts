import { describe, expect, it } from 'vitest';
import { classifyLogLine } from '../../src/report/log-reader.js';

const line = (value: Record<string, unknown>): string => JSON.stringify({ level: 30, time: 1_700_000_000_000, hostname: 'ego', ...value });
const uploaded = { event: 'uploaded', run: 'r', seq: 0, name: 'V-V1_X-1400000000-1.hdf5', t_avail: 1 };
const verified = { event: 'verified', run: 'r', seq: 0, name: 'V-V1_X-1400000000-1.hdf5', adler32: '00000001' };

describe('classifyLogLine: what a log line is, for the report and the live view', () => {
  it('reads run events from either side, with their time and host', () => {
    for (const side of ['upload', 'download'] as const) {
      expect(classifyLogLine(side, line({ event: 'run_started', side: 'upload', run: 'r' }))).toMatchObject({
        kind: 'run',
        event: { event: 'run_started', side: 'upload' },
        time: 1_700_000_000_000,
        hostname: 'ego',
      });
    }
    expect(classifyLogLine('download', line({ event: 'ready', side: 'download', run: 'r' }))).toMatchObject({ kind: 'run', event: { event: 'ready' } });
  });

  it('reads chunk events only from their own side', () => {
    expect(classifyLogLine('upload', line(uploaded))).toMatchObject({ kind: 'upload', event: { event: 'uploaded', seq: 0 }, hostname: 'ego' });
    expect(classifyLogLine('download', line(verified))).toMatchObject({ kind: 'download', event: { event: 'verified', seq: 0 } });
    expect(classifyLogLine('download', line(uploaded))).toEqual({ kind: 'ignored' });
    expect(classifyLogLine('upload', line(verified))).toEqual({ kind: 'ignored' });
  });

  it('ignores diagnostics, skips blank lines, and says why a line is malformed', () => {
    expect(classifyLogLine('upload', line({ msg: 'poll answered' }))).toEqual({ kind: 'ignored' });
    expect(classifyLogLine('upload', '   ')).toEqual({ kind: 'blank' });
    const reasonOf = (side: 'upload' | 'download', text: string): string => {
      const classified = classifyLogLine(side, text);
      expect(classified.kind).toBe('malformed');
      return classified.kind === 'malformed' ? classified.reason : '';
    };
    expect(reasonOf('upload', '{"event":"uploa')).toMatch(/^not valid JSON: /);
    expect(classifyLogLine('upload', '{"event":"uploa')).toHaveProperty('unparsable');
    expect(reasonOf('upload', '[1,2]')).toBe('not a JSON object');
    expect(reasonOf('upload', line({ ...uploaded, seq: 'zero' }))).toMatch(/^upload 'uploaded' event does not match its schema: seq/);
    expect(reasonOf('download', line({ event: 'run_finished' }))).toMatch(/^run_finished event does not match its schema/);
  });
});
