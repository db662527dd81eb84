/**
 * Batched attach registrations (AttachBatcher) against a real Rucio 1.31.7 server: uploads that
 * share one attach request land as single uploads do (the official client lists, validates and
 * downloads them), a batch the server refuses for one file's sake gives that file its own
 * DidConflictError while the others land, and a refusal of the whole request (a closed dataset)
 * reaches every file without single requests. A batch is formed deterministically by holding the
 * first request of a lane at a gate in front of the real client until the others are waiting.
 */
import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AttachBatcher,
  DidConflictError,
  RucioClient,
  RucioConflictError,
  attachEndpoint,
  loadRucioConfig,
  uploadFile,
  type Did,
} from '../../src/rucio/index.js';
import { gatedFirstAttach, until } from '../helpers/attach-gate.js';
import { runCli } from '../helpers/cli.js';
import { fileSums, hashPath, parseTable, readJsonLines, realRucioForFile } from './peer.js';

const real = realRucioForFile();
let client: RucioClient;
const scope = 'wavefier';
/** A second posix RSE: a DID registered on LOCAL_POSIX can be uploaded again there with other bytes. */
const otherRse = 'BATCH_SCRATCHDISK';

beforeAll(async () => {
  client = new RucioClient(await loadRucioConfig({ env: real().env }), { retry: { attempts: 1 } });
  await real().rucioAdminOk(['rse', 'add', otherRse]);
  const domains = { lan: { read: 1, write: 1, delete: 1 }, wan: { read: 1, write: 1, delete: 1, third_party_copy_read: 1, third_party_copy_write: 1 } };
  await real().rucioAdminOk([
    'rse', 'add-protocol', '--hostname', 'localhost', '--scheme', 'file', '--prefix', join(real().info.dir, 'rse', otherRse),
    '--domain-json', JSON.stringify(domains), '--impl', 'rucio.rse.protocols.posix.Default', otherRse,
  ]);
}, 120_000);

afterAll(async () => {
  await client.close();
});

async function newDataset(label: string): Promise<Did> {
  const dataset = { scope, name: `batch-${label}-${Date.now()}` };
  await client.addDataset(dataset.scope, dataset.name);
  return dataset;
}


function attachRequests(): number {
  return client.stats.byEndpoint[attachEndpoint] ?? 0;
}

describe('batched attach registrations on a real Rucio server', { timeout: 180_000 }, () => {
  it('uploads that share one attach request: the official client lists, validates and downloads every one', async () => {
    const dataset = await newDataset('shared');
    const gated = gatedFirstAttach(client);
    const batcher = new AttachBatcher(gated.client);
    const before = attachRequests();
    const chunks = Array.from({ length: 8 }, (_, i) => ({ name: `${dataset.name}-${i}.bin`, bytes: Buffer.from(`chunk ${i} of ${dataset.name}\n`.repeat(50 + i)) }));
    const uploads = chunks.map((chunk) => uploadFile(client, { scope, ...chunk, dataset, rse: 'LOCAL_POSIX', attachBatcher: batcher }));
    await until(() => batcher.waiting === 7, 'seven uploads wait behind the first one\'s attach', 30_000);
    gated.release();
    await Promise.all(uploads);
    expect(attachRequests() - before).toBe(2);
    expect(batcher.stats).toEqual({ requests: 2, batchedFiles: 7, fallbacks: 0 });

    const did = `${scope}:${dataset.name}`;
    const dest = join(real().dir, 'batch-download');
    const [contentText, replicasText, meta, download] = await Promise.all([
      real().rucioOk(['list-content', did]),
      real().rucioOk(['list-file-replicas', did]),
      real().rucioOk(['get-metadata', ...chunks.map((c) => `${scope}:${c.name}`)]),
      real().rucio(['download', '--dir', dest, did]),
    ]);
    const names = chunks.map((c) => c.name).sort();
    expect(parseTable(contentText).map((row) => row['SCOPE:NAME']).sort()).toEqual(names.map((n) => `${scope}:${n}`));
    const replicas = parseTable(replicasText);
    expect(replicas).toHaveLength(chunks.length);
    for (const chunk of chunks) {
      const sums = fileSums(chunk.bytes);
      const row = replicas.find((r) => r.NAME === chunk.name);
      expect(row?.ADLER32).toBe(sums.adler32);
      expect(row?.['RSE: REPLICA']).toBe(`LOCAL_POSIX: file://localhost${hashPath(real().info.rse_prefix, scope, chunk.name)}`);
      const block = meta.split(/\n(?=access_cnt:)/).find((b) => b.includes(`name:            ${chunk.name}\n`));
      expect(block).toMatch(new RegExp(`^md5:\\s+${sums.md5}$`, 'm'));
      expect(block).toMatch(new RegExp(`^bytes:\\s+${sums.bytes}$`, 'm'));
      expect(block).toMatch(/^availability:\s+AVAILABLE$/m);
    }
    expect(download.code, download.stderr).toBe(0);
    expect(download.stdout).toMatch(new RegExp(`Downloaded files:\\s+${chunks.length}\\n`));
    expect((await readdir(join(dest, dataset.name))).sort()).toEqual(names);
    for (const chunk of chunks) expect(await readFile(join(dest, dataset.name, chunk.name))).toEqual(chunk.bytes);
  });

  it('one file of a batch registered before with other bytes: the server refuses the batch, that file gets its own DidConflictError, the others land', async () => {
    const dataset = await newDataset('clash');
    const clashName = `${dataset.name}-clash.bin`;
    const first = await uploadFile(client, { scope, name: clashName, bytes: Buffer.from('first bytes'), dataset, rse: 'LOCAL_POSIX' });

    const gated = gatedFirstAttach(client);
    const batcher = new AttachBatcher(gated.client);
    const leaderName = `${dataset.name}-leader.bin`;
    const chunks = [leaderName, `${dataset.name}-a.bin`, clashName, `${dataset.name}-b.bin`].map((name) => ({ name, bytes: Buffer.from(`other bytes of ${name}`) }));
    const upload = (chunk: { name: string; bytes: Buffer }): Promise<unknown> => uploadFile(client, { scope, ...chunk, dataset, rse: otherRse, attachBatcher: batcher });
    // The leader first: its attach is the one held at the gate, the other three queue behind it.
    const leader = upload(chunks[0]!);
    await until(() => batcher.stats.requests === 1, 'the leader\'s attach is out', 30_000);
    const uploads = [leader, ...chunks.slice(1).map(upload)];
    await until(() => batcher.waiting === 3, 'three uploads wait behind the leader', 30_000);
    gated.release();
    const outcomes = await Promise.allSettled(uploads);

    expect(batcher.stats).toEqual({ requests: 5, batchedFiles: 3, fallbacks: 1 });
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    const error = (outcomes[2] as PromiseRejectedResult).reason as unknown;
    expect(error).toBeInstanceOf(DidConflictError);
    expect((error as Error).message).toContain(`upload ${scope}:${clashName} refused: the catalog already holds it with adler32 ${first.adler32}`);

    const did = `${scope}:${dataset.name}`;
    const [contentText, replicasText] = await Promise.all([real().rucioOk(['list-content', did]), real().rucioOk(['list-file-replicas', '--rses', otherRse, did])]);
    expect(parseTable(contentText).map((row) => row['SCOPE:NAME']).sort()).toEqual(chunks.map((c) => `${scope}:${c.name}`).sort());
    const onOther = parseTable(replicasText).map((row) => row.NAME).sort();
    expect(onOther).toEqual(chunks.filter((c) => c.name !== clashName).map((c) => c.name).sort());
    // The refused file: the object its PUT wrote on the other RSE is gone, the first one intact.
    expect(existsSync(hashPath(join(real().info.dir, 'rse', otherRse), scope, clashName))).toBe(false);
    expect(await readFile(hashPath(real().info.rse_prefix, scope, clashName), 'utf8')).toBe('first bytes');
    expect((await client.getMetadata(scope, clashName)).adler32).toBe(first.adler32);
  });

  it('a closed dataset refuses the whole batch: every file gets the server\'s UnsupportedOperation, no single requests', async () => {
    const dataset = await newDataset('closed');
    const gated = gatedFirstAttach(client);
    const batcher = new AttachBatcher(gated.client);
    const files = Array.from({ length: 4 }, (_, i) => ({ scope, name: `${dataset.name}-${i}.bin`, ...fileSums(Buffer.from(`file ${i}`)) }));
    const outcomes = files.map((file) => batcher.attach(dataset, file, { rse: 'LOCAL_POSIX' }));
    await real().rucioOk(['close', `${scope}:${dataset.name}`]);
    gated.release();
    const errors = (await Promise.allSettled(outcomes)).map((o) => (o.status === 'rejected' ? (o.reason as unknown) : undefined));
    expect(batcher.stats).toEqual({ requests: 2, batchedFiles: 3, fallbacks: 0 });
    for (const error of errors) {
      expect(error).toBeInstanceOf(RucioConflictError);
      expect((error as Error).message).toMatch(new RegExp(`HTTP 409 UnsupportedOperation \\(Data identifier '${scope}:${dataset.name}' is closed\\)`));
    }
    expect(parseTable(await real().rucioOk(['list-content', `${scope}:${dataset.name}`]))).toEqual([]);
  });

  it('wavefier upload --count 12 sends fewer attach requests than chunks and logs every chunk on its own line', async () => {
    const logs = join(real().dir, 'logs');
    const result = await runCli(['--json', 'upload', '--rse', 'LOCAL_POSIX', '--source', 'synthetic', '--count', '12', '--as-fast-as-possible', '--close-dataset', '--log-dir', logs], { env: real().env });
    expect(result.code, result.stderr).toBe(0);
    const summary = JSON.parse(result.stdout.trim().split('\n').at(-1) ?? '') as { dataset: string; uploaded: number; attachRequests: number; logFile: string };
    expect(summary.uploaded).toBe(12);
    // Four workers against a server that takes tens of ms per attach: chunks finish side by side.
    expect(summary.attachRequests).toBeGreaterThan(0);
    expect(summary.attachRequests).toBeLessThan(12);
    const uploaded = (await readJsonLines(summary.logFile)).filter((e) => e.event === 'uploaded');
    expect(uploaded.map((e) => e.seq).sort((a, b) => Number(a) - Number(b))).toEqual(Array.from({ length: 12 }, (_, i) => i));
    for (const event of uploaded) expect(typeof event.t_uploaded).toBe('number');
    const content = parseTable(await real().rucioOk(['list-content', `${scope}:${summary.dataset}`]));
    expect(content.map((row) => row['SCOPE:NAME']).sort()).toEqual(uploaded.map((e) => `${scope}:${String(e.name)}`).sort());
  });
});
