import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/common/errors.js';
import { checkPathName, checkUserPath, confinedPath, pathNameProblem } from '../../src/common/safe-path.js';
import { safeDestination } from '../../src/rucio/index.js';

describe('one check for every name that becomes a path (issue 15)', () => {
  const root = resolve('/srv/wavefier/logs');

  it('refuses every way out of the root, and says which flag or DID', () => {
    const hostile = ['..', '.', '../x', 'a/../../x', '/etc/passwd', 'C:evil', 'a\\..\\b', 'x\u0000y', 'esc\u001b[2J', '．．', 'a/ .. /b', 'a//b', '', 'x'.repeat(256)];
    for (const name of hostile) {
      expect(pathNameProblem(name, { nested: true }), JSON.stringify(name)).toBeDefined();
      let thrown: unknown;
      try {
        confinedPath(root, name, '--run-name', { nested: true });
      } catch (error) {
        thrown = error;
      }
      expect(thrown, JSON.stringify(name)).toMatchObject({ exitCode: ExitCode.usage });
      expect((thrown as Error).message).toContain('--run-name');
      // eslint-disable-next-line no-control-regex -- no control character may reach the terminal
      expect((thrown as Error).message).not.toMatch(/[\u0000-\u001f]/);
    }
  });

  it("keeps one-component names to one component unless nested (a run id with '/' is refused)", () => {
    expect(pathNameProblem('20261126T190836Z-ed20')).toBeUndefined();
    expect(pathNameProblem('run/x')).toBe("contains '/'");
    expect(pathNameProblem('ds/sub/V-V1_WAVEFIER-1400000000-1.hdf5', { nested: true })).toBeUndefined();
    expect(confinedPath(root, 'ds/sub/file.hdf5', 'DID', { nested: true })).toBe(join(root, 'ds', 'sub', 'file.hdf5'));
    expect(checkPathName('x..y', '--run-id')).toBe('x..y');
  });

  it('download destinations go through it: a DID name is confined under --dest', () => {
    expect(safeDestination('/data/dest', 'ds/a.hdf5')).toBe('/data/dest/ds/a.hdf5');
    for (const name of ['ds/x/..', 'ds/a/../b.hdf5', '../outside', '/abs']) expect(() => safeDestination('/data/dest', name)).toThrow(/cannot be used as a path/);
  });

  it('user-chosen paths (--dir, --log-dir) may be anything printable', () => {
    expect(checkUserPath('../elsewhere/lake', '--dir')).toBe('../elsewhere/lake');
    expect(() => checkUserPath('a\u001b]0;x\u0007', '--dir')).toThrow(/--dir .* contains control characters/);
    expect(() => checkUserPath(' ', '--log-dir')).toThrow(/--log-dir needs a path/);
  });
});
