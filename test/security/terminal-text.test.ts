import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { terminalText, terminalValue } from '../../src/common/terminal-text.js';
import { runCli } from '../helpers/cli.js';
import { startTestLake, type TestLake } from '../helpers/lake.js';

/** Characters that, printed raw, drive a terminal: ESC (CSI/OSC sequences), BEL, CR, the C1 CSI, a bidi override. */
// eslint-disable-next-line no-control-regex -- finding them is the point
const raw = /[\u001b\u0007\r\u009b\u202e]/;

let logs: string;
beforeAll(async () => {
  logs = await mkdtemp(join(tmpdir(), 'wavefier-terminal-'));
  await cp(new URL('../fixtures/report/clean/run-clean', import.meta.url), join(logs, 'run-clean'), { recursive: true });
  // Chunks 0-2 get hostile names on both sides; chunk 2 is never downloaded (missing: listed, and on the HTML page).
  const hostile = new Map<number, string>([
    [0, 'clear\u001b[2J\u001b]0;pwned title\u0007.hdf5'],
    [1, 'fake\n= V-V1_WAVEFIER-1400000000-1.hdf5  (looks fine)\rline.hdf5'],
    [2, '<img src=x onerror=alert(2)>\u202egnp.hdf5'],
  ]);
  for (const file of ['upload.jsonl', 'download.jsonl']) {
    const path = join(logs, 'run-clean', file);
    const lines: string[] = [];
    for (const line of (await readFile(path, 'utf8')).split('\n')) {
      if (line === '') continue;
      const event = JSON.parse(line) as { event?: string; seq?: number; name?: string };
      const name = event.seq === undefined ? undefined : hostile.get(event.seq);
      if (name !== undefined && (event.event === 'uploaded' || event.event === 'verified')) {
        if (file === 'download.jsonl' && event.seq === 2) continue;
        event.name = name;
      }
      lines.push(JSON.stringify(event));
    }
    if (file === 'download.jsonl') lines.push('not json \u001b[31mRED\u001b[0m and a bell \u0007');
    await writeFile(path, `${lines.join('\n')}\n`);
  }
});
afterAll(async () => {
  await rm(logs, { recursive: true, force: true });
});

describe('untrusted text is escaped for the terminal (issue 15)', () => {
  it('report --combined prints hostile chunk names and malformed lines escaped, one listing line per chunk', async () => {
    const result = await runCli(['report', '--combined', '--no-plots', logs]);
    expect(result.code).toBe(3);
    expect(result.stdout).not.toMatch(raw);
    expect(result.stderr).not.toMatch(raw);
    expect(result.stdout).toContain('= clear\\x1b[2J\\x1b]0;pwned title\\x07.hdf5');
    expect(result.stdout).toContain('- <img src=x onerror=alert(2)>\\u202egnp.hdf5  (never downloaded)');
    // The name with a line break stays on its own listing line: 12 chunks, 12 lines.
    expect(result.stdout).toContain('= fake\\x0a= V-V1_WAVEFIER-1400000000-1.hdf5  (looks fine)\\x0dline.hdf5');
    expect(result.stdout.split('\n').filter((line) => /^[-=] /.test(line))).toHaveLength(12);
    expect(result.stderr).toContain('not valid JSON');
  });

  it('the HTML report keeps names HTML-escaped', async () => {
    const plots = join(logs, 'plots');
    const result = await runCli(['report', '--plots', plots, logs]);
    expect(result.code).toBe(3);
    const html = await readFile(join(plots, 'report.html'), 'utf8');
    expect(html).not.toContain('<img src=x');
    expect(html).toContain('&lt;img src=x onerror=alert(2)&gt;\u202egnp.hdf5');
  });

  describe('with a lake', () => {
    let lake: TestLake;
    beforeAll(async () => {
      lake = await startTestLake();
    });
    afterAll(async () => {
      await lake.dispose();
    });

    it("an error line quoting the server's message (an RSE name with escape sequences) is escaped", async () => {
      const result = await runCli(['doctor', '--rse', 'LAKE\u001b]0;owned\u0007\u001b[2J'], { env: { RUCIO_HOME: lake.settings.rucioHome } });
      expect(result.code).not.toBe(0);
      expect(result.stdout).not.toMatch(raw);
      expect(result.stderr).not.toMatch(raw);
      expect(`${result.stdout}${result.stderr}`).toContain('\\x1b]0;owned\\x07');
    });
  });

  it('escapes C0/C1 controls, DEL and bidi controls; keeps line breaks and tabs in text, not in values', () => {
    expect(terminalText('a\u001b[2Jb\tc\nd\u007fe\u009bf\u202eg\rh')).toBe('a\\x1b[2Jb\tc\nd\\x7fe\\x9bf\\u202eg\\x0dh');
    expect(terminalValue('a\nb\tc')).toBe('a\\x0ab\\x09c');
    expect(terminalText('plain ASCII, ünïcödé, 中文 and emoji 🙂 pass')).toBe('plain ASCII, ünïcödé, 中文 and emoji 🙂 pass');
  });
});
