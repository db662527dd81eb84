import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../../src/lake/catalog.js';
import { openDatabase } from '../../src/lake/database.js';
import { startTestLake, type TestLake } from '../helpers/lake.js';

const tables = ['dids', 'contents', 'content_sizes', 'replicas'] as const;

function rowCounts(db: Database.Database): Record<string, number> {
  return Object.fromEntries(tables.map((table) => [table, db.prepare<[], { n: number }>(`SELECT COUNT(*) AS n FROM ${table}`).get()?.n ?? -1]));
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wavefier-lake-warm-up-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("the embedded lake's catalog warm-up", () => {
  it('runs an attach with replica registration and the listings, and rolls all of it back', () => {
    const db = openDatabase(join(dir, 'catalog.sqlite'));
    try {
      const catalog = new Catalog(db);
      catalog.addCollection({ scope: 'wavefier', name: 'kept', type: 'DATASET', account: 'root', monotonic: false, meta: {}, scopeExists: true });
      const before = rowCounts(db);
      expect(catalog.warmUp()).toBe(true);
      expect(catalog.warmUp()).toBe(true);
      expect(rowCounts(db)).toEqual(before);
      // The catalog goes on as before: the dataset created before the warm-up is still there and open.
      expect(catalog.getDid('wavefier', 'kept').is_open).toBe(1);
    } finally {
      db.close();
    }
  });

  describe('a lake that started (it warms up before it listens)', () => {
    let lake: TestLake;
    beforeAll(async () => {
      lake = await startTestLake({ dir: join(dir, 'lake') });
    });
    afterAll(async () => {
      await lake.dispose();
    });

    it('holds no object, file or directory of the storage warm-up in its buckets, which are there and empty', async () => {
      const storage = join(dir, 'lake', 's3');
      const entries = await readdir(storage, { recursive: true, withFileTypes: true });
      // The buckets, empty: no file, and no directory inside them.
      expect(entries.filter((entry) => !entry.isDirectory())).toEqual([]);
      expect(entries.map((entry) => relative(storage, join(entry.parentPath, entry.name))).sort()).toEqual(['wavefier-lake', 'wavefier-signed']);
    });

    it('holds no DID, content or replica of the warm-up', () => {
      const db = new Database(join(dir, 'lake', 'catalog.sqlite'), { readonly: true });
      try {
        expect(rowCounts(db)).toEqual({ dids: 0, contents: 0, content_sizes: 0, replicas: 0 });
      } finally {
        db.close();
      }
    });
  });
});
