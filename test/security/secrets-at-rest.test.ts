import { chmod, chown, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { TokenCache } from '../../src/rucio/token-cache.js';
import { startTestLake, type TestLake } from '../helpers/lake.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function sandbox(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'wavefier-secrets-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const mode = async (path: string): Promise<number> => (await stat(path)).mode & 0o777;

/** Runs `body` with the process umask at 000: whatever mode a file gets is then the one it was created with. */
async function withOpenUmask<T>(body: () => Promise<T>): Promise<T> {
  const previous = process.umask(0);
  try {
    return await body();
  } finally {
    process.umask(previous);
  }
}

async function startLakeIn(dir: string): Promise<TestLake> {
  const lake = await startTestLake({ dir });
  cleanups.push(() => lake.dispose());
  return lake;
}

const isRoot = process.getuid?.() === 0;
const nobody = 65_534;

describe('secrets at rest (issue 15)', () => {
  it('creates the lake directory 0700 and every file holding a secret or token 0600, even under umask 000', async () => {
    const dir = join(await sandbox(), 'new', 'lake');
    const lake = await withOpenUmask(async () => {
      const started = await startLakeIn(dir);
      await started.token();
      return started;
    });
    expect(lake.settings.dir).toBe(dir);
    expect(await mode(dir)).toBe(0o700);
    expect(await mode(join(dir, 'etc'))).toBe(0o700);
    const secrets = ['catalog.sqlite', 'catalog.sqlite-wal', 'catalog.sqlite-shm', 'admin-token', 'password-wavefier', 's3-access-key', 's3-secret-key', 'etc/rucio.cfg', 'etc/rse-accounts.cfg'];
    for (const file of secrets) expect(`${file} ${(await mode(join(dir, file))).toString(8)}`).toBe(`${file} 600`);
    // Nothing else in the directory's top level or etc/ is readable by others.
    for (const name of [...(await readdir(dir)), ...(await readdir(join(dir, 'etc'))).map((n) => `etc/${n}`)]) {
      const path = join(dir, name);
      if ((await stat(path)).isFile()) expect(`${name} ${((await mode(path)) & 0o077).toString(8)}`).toBe(`${name} 0`);
    }
  });

  it('keeps only digests of tokens in the database: a stolen database file yields no usable token', async () => {
    const dir = join(await sandbox(), 'lake');
    const lake = await startLakeIn(dir);
    const token = await lake.token();
    expect((await lake.rucio('/auth/validate', { token })).status).toBe(200);
    const db = new Database(join(dir, 'catalog.sqlite'), { readonly: true });
    let stored: string[];
    try {
      stored = db.prepare<[], { token: string }>('SELECT token FROM tokens').all().map((row) => row.token);
    } finally {
      db.close();
    }
    expect(stored.length).toBeGreaterThan(0);
    expect(stored).not.toContain(token);
    for (const value of stored) {
      expect(value).toMatch(/^[0-9a-f]{64}$/);
      expect((await lake.rucio('/auth/validate', { token: value })).status).toBe(401);
    }
  });

  it('tightens a lake directory an older version left open (0755, a 0644 database, plain-text tokens), keeping live tokens valid', async () => {
    const dir = join(await sandbox(), 'lake');
    let lake = await startTestLake({ dir });
    const token = await lake.token();
    await lake.dispose({ keepDir: true });
    // What the previous version left: readable files, and the token itself in the table.
    const db = new Database(join(dir, 'catalog.sqlite'));
    db.prepare('UPDATE tokens SET token = ?').run(token);
    db.exec("DELETE FROM meta WHERE key = 'token_storage'");
    db.close();
    await chmod(dir, 0o755);
    await chmod(join(dir, 'catalog.sqlite'), 0o644);
    await chmod(join(dir, 'admin-token'), 0o644);

    lake = await startLakeIn(dir);
    expect(await mode(dir)).toBe(0o700);
    expect(await mode(join(dir, 'catalog.sqlite'))).toBe(0o600);
    expect(await mode(join(dir, 'admin-token'))).toBe(0o600);
    expect((await lake.rucio('/auth/validate', { token })).status).toBe(200);
    const reopened = new Database(join(dir, 'catalog.sqlite'), { readonly: true });
    try {
      expect(reopened.prepare('SELECT COUNT(*) AS n FROM tokens WHERE token = ?').get(token)).toEqual({ n: 0 });
    } finally {
      reopened.close();
    }
  });

  it('writes the client token cache 0600 in a 0700 directory, even under umask 000', async () => {
    const path = join(await sandbox(), 'fresh', 'tokens', 'auth_token_for_account_root');
    await withOpenUmask(() => new TokenCache(path).write({ token: 'root-token', obtainedAt: Date.now() }));
    expect(await mode(path)).toBe(0o600);
    expect(await mode(join(path, '..'))).toBe(0o700);
    expect(await mode(join(path, '..', '..'))).toBe(0o700);
    expect((await new TokenCache(path).read())?.token).toBe('root-token');
  });

  it('closes a token directory of ours that is open to others before writing into it', async () => {
    const dir = join(await sandbox(), 'open');
    await mkdir(dir, { mode: 0o777 });
    await chmod(dir, 0o777);
    await new TokenCache(join(dir, 'token')).write({ token: 't', obtainedAt: 0 });
    expect(await mode(dir)).toBe(0o700);
  });

  it.skipIf(!isRoot)('ignores a cached token file another user planted (it would hand us their token)', async () => {
    const path = join(await sandbox(), 'planted');
    await writeFile(path, 'someone-elses-token', { mode: 0o600 });
    await chown(path, nobody, nobody);
    expect(await new TokenCache(path).read()).toBeUndefined();
  });

  it.skipIf(!isRoot)('refuses to keep a token in a directory another user owns and others may write to', async () => {
    // A non-root user cannot write into a directory of another user without these rights; as root the check must still hold.
    const dir = join(await sandbox(), 'theirs');
    await mkdir(dir);
    await chmod(dir, 0o777);
    await chown(dir, nobody, nobody);
    const { uid } = await stat(dir);
    expect(uid).toBe(nobody);
    // root is uid 0: the directory is someone else's.
    await expect(new TokenCache(join(dir, 'token')).write({ token: 't', obtainedAt: 0 })).rejects.toThrow(/belongs to another user/);
  });
});
