import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/common/errors.js';
import { LogTail } from '../../tools/soak/log-tail.js';
import { parsePgrep } from '../../tools/soak/processes.js';
import { defaultSchedule, faultKinds } from '../../tools/soak/schedule.js';
import { parseSoakArgs } from '../../tools/soak/soak-options.js';

describe('soak command line', () => {
  it('defaults to the 4 h rehearsal as fast as possible with the default schedule', () => {
    const args = parseSoakArgs([]);
    expect(args).toMatchObject({ count: 14_400, asFastAsPossible: true, corruptRate: 0.01, uploadWorkers: 2, logDir: 'rehearsals' });
    expect(args.schedule).toEqual(defaultSchedule);
  });

  it('takes a rate factor, a schedule and a deadline', () => {
    const args = parseSoakArgs(['--count', '300', '--rate-factor', '25', '--deadline', '90s', '--schedule', '[{"at":0.5,"kind":"restart-redis"}]']);
    expect(args).toMatchObject({ count: 300, rateFactor: 25, asFastAsPossible: false, deadlineMs: 90_000 });
    expect(args.schedule).toEqual([{ at: 0.5, kind: 'restart-redis' }]);
  });

  it.each([
    [['--count', 'many'], /count/],
    [['--count', '5'], /count/],
    [['--rate-factor', '10', '--as-fast-as-possible'], /exclude each other/],
    [['--corrupt-rate', '2'], /corruptRate/],
    [['--schedule', '[{"at":1.5,"kind":"restart-redis"}]'], /invalid --schedule/],
    [['--schedule', '[{"at":0.5,"kind":"reboot"}]'], /invalid --schedule/],
    [['--schedule', '{not json'], /not valid JSON/],
    [['--schedule', '@/nonexistent/schedule.json'], /cannot read --schedule file/],
    [['--bogus'], /bogus/],
  ])('rejects %j with a usage error that names the problem', (argv, message) => {
    expect(() => parseSoakArgs(argv)).toThrow(UsageError);
    expect(() => parseSoakArgs(argv)).toThrow(message);
  });

  it('has a default schedule that injects every fault kind, at least once, within the run', () => {
    expect(new Set(defaultSchedule.map((step) => step.kind))).toEqual(new Set(faultKinds));
    for (const step of defaultSchedule) expect(step.at).toBeGreaterThan(0);
  });
});

describe('soak helpers', () => {
  it('parses pgrep -a output', () => {
    expect(parsePgrep('123 node /x/bullmq/dist/cjs/classes/main.js\n  45 sleep 1\n\n')).toEqual([
      { pid: 123, command: 'node /x/bullmq/dist/cjs/classes/main.js' },
      { pid: 45, command: 'sleep 1' },
    ]);
  });

  it('follows appended JSON lines and keeps a half-written line until its newline arrives', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'soak-tail-'));
    try {
      const seen: unknown[] = [];
      const tail = new LogTail(dir, (name) => name.endsWith('.jsonl'), (record) => seen.push(record.n));
      await tail.poll(); // nothing yet
      const file = join(dir, 'upload.jsonl');
      await writeFile(file, '{"n":1}\n{"n":');
      await writeFile(join(dir, 'other.txt'), '{"n":99}\n');
      await tail.poll();
      expect(seen).toEqual([1]);
      await writeFile(file, '{"n":1}\n{"n":2}\nnot json\n{"n":3}\n');
      await tail.poll();
      expect(seen).toEqual([1, 2, 3]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
