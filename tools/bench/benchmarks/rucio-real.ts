import { spawn } from 'node:child_process';
import { copyFile, mkdir, readdir } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { wavefierExecutable } from '../../../src/common/installation.js';
import { startRealRucio, type RealRucio } from '../../peers/rucio.js';
import type { Benchmark, BenchContext, Metric } from '../types.js';
import { median, round } from './helpers.js';

/** Runs of each command that count (after one warm-up run each); the median and the fastest are reported. */
const runs = 5;
const chunks = 30;
const rse = 'LOCAL_POSIX';
const scope = 'wavefier';

interface Timed {
  seconds: number;
  stdout: string;
  stderr: string;
}

/** Wall time of one command, from spawning the process to its exit; fails unless it exits 0. */
function timeCommand(label: string, command: string, args: readonly string[], env: NodeJS.ProcessEnv, cwd: string): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const seconds = (performance.now() - started) / 1000;
      clearTimeout(timer);
      if (code !== 0) {
        reject(new Error(`${label} exited with ${signal ?? `code ${code}`}: ${stderr.trim().split('\n').slice(-5).join(' / ')}`));
        return;
      }
      resolve({ seconds, stdout, stderr });
    });
  });
}

/** What a user's shell has for the two clients: wavefier with the peer's rucio.cfg; the official client as `peer rucio` runs it. */
interface Commands {
  wavefier(label: string, args: readonly string[]): Promise<Timed>;
  rucio(label: string, args: readonly string[]): Promise<Timed>;
}

function commandsFor(peer: RealRucio, cwd: string): Commands {
  const { PYTHONHOME: _pythonHome, ...inherited } = process.env;
  return {
    wavefier: (label, args) => timeCommand(label, process.execPath, [wavefierExecutable(), ...args], { ...process.env, ...peer.env }, cwd),
    rucio: (label, args) => timeCommand(label, peer.official.python, [peer.official.rucio, ...args], { ...inherited, ...peer.official.env }, cwd),
  };
}

async function countFiles(dir: string): Promise<number> {
  return (await readdir(dir)).filter((name) => name.endsWith('.hdf5')).length;
}

/** A wavefier upload of `chunks` synthetic chunks; returns its dataset name. */
async function wavefierUpload(commands: Commands, logDir: string, label: string, extra: readonly string[] = []): Promise<{ timed: Timed; dataset: string }> {
  const timed = await commands.wavefier(label, [
    '--json', 'upload', '--rse', rse, '--source', 'synthetic', '--count', String(chunks), '--as-fast-as-possible', '--log-dir', logDir, ...extra,
  ]);
  const summary = JSON.parse(timed.stdout.trim().split('\n').at(-1) ?? '{}') as { dataset?: unknown; uploaded?: unknown };
  if (typeof summary.dataset !== 'string' || summary.uploaded !== chunks) {
    throw new Error(`${label}: expected ${chunks} chunks uploaded, the summary says ${timed.stdout.trim().split('\n').at(-1) ?? 'nothing'}`);
  }
  return { timed, dataset: summary.dataset };
}

interface Side {
  wavefier: number[];
  rucio: number[];
}

/**
 * Each pair of runs alternates which client goes first, so that a burst of load from elsewhere on
 * the machine does not fall on one side only.
 */
async function alternate(count: number, wavefier: (index: number) => Promise<number>, rucio: (index: number) => Promise<number>): Promise<Side> {
  const side: Side = { wavefier: [], rucio: [] };
  for (let index = 0; index < count; index++) {
    if (index % 2 === 0) {
      side.wavefier.push(await wavefier(index));
      side.rucio.push(await rucio(index));
    } else {
      side.rucio.push(await rucio(index));
      side.wavefier.push(await wavefier(index));
    }
  }
  return side;
}

function sideMetrics(what: { wavefier: string; rucio: string; ratio: string; ratioTarget: string; ratioNote: string }, side: Side): Metric[] {
  const wavefierMedian = median(side.wavefier);
  const rucioMedian = median(side.rucio);
  const seconds = (name: string, value: number, target?: string, note?: string): Metric => ({
    name,
    value: round(value),
    unit: 's',
    ...(target === undefined ? {} : { target }),
    ...(note === undefined ? {} : { note }),
  });
  return [
    seconds(`${what.wavefier}: median`, wavefierMedian, undefined, `${side.wavefier.length} runs: ${side.wavefier.map((s) => s.toFixed(2)).join(', ')}`),
    seconds(`${what.wavefier}: fastest`, Math.min(...side.wavefier)),
    seconds(`${what.rucio}: median`, rucioMedian, undefined, `${side.rucio.length} runs: ${side.rucio.map((s) => s.toFixed(2)).join(', ')}`),
    seconds(`${what.rucio}: fastest`, Math.min(...side.rucio)),
    { name: what.ratio, value: round(rucioMedian / wavefierMedian, 2), unit: 'x', target: what.ratioTarget, note: what.ratioNote },
  ];
}

/**
 * Issue 18's start-up targets on a real Rucio 1.31.7 server (the peers kit, SQLite, one gunicorn
 * worker): the same closed 30-chunk dataset downloaded by `wavefier download --until-closed` and by
 * the official `rucio download`, and 30 chunk files uploaded by `wavefier upload --count 30
 * --as-fast-as-possible` and by one `rucio upload` of the same 30 files (the bytes of the chunks
 * wavefier wrote, under new names). Wall time from process start to exit, as a user waits for it.
 */
async function runRucioReal(context: BenchContext): Promise<Metric[]> {
  const loadBefore = loadavg()[0] ?? Number.NaN;
  context.log('starting a real Rucio 1.31.7 server (peers kit)');
  const peer = await startRealRucio();
  try {
    const work = join(peer.dir, 'bench');
    const logDir = join(work, 'logs');
    await mkdir(logDir, { recursive: true });
    const commands = commandsFor(peer, work);

    // The dataset both downloads read, closed; and the chunk files the official client uploads again.
    const { dataset } = await wavefierUpload(commands, logDir, 'preparing upload', ['--close-dataset']);
    const did = `${scope}:${dataset}`;
    const filesDir = join(work, 'files');
    await commands.rucio('rucio download (preparing the files)', ['download', '--dir', filesDir, did]);
    const files = (await readdir(join(filesDir, dataset))).filter((name) => name.endsWith('.hdf5')).sort();
    if (files.length !== chunks) throw new Error(`expected ${chunks} chunk files from the official client, found ${files.length}`);

    const downloadWavefier = async (index: number | 'warm-up'): Promise<number> => {
      const dir = join(work, `wavefier-download-${index}`);
      const timed = await commands.wavefier(`wavefier download (${index})`, [
        '--json', 'download', did, '--dir', dir, '--until-closed', '--log-dir', logDir, '--run-name', `download-${index}`,
      ]);
      const found = await countFiles(join(dir, dataset));
      if (found !== chunks) throw new Error(`wavefier download (${index}) left ${found} files, expected ${chunks}`);
      return timed.seconds;
    };
    const downloadRucio = async (index: number | 'warm-up'): Promise<number> => {
      const dir = join(work, `rucio-download-${index}`);
      const timed = await commands.rucio(`rucio download (${index})`, ['download', '--dir', dir, did]);
      const found = await countFiles(join(dir, dataset));
      if (found !== chunks) throw new Error(`rucio download (${index}) left ${found} files, expected ${chunks}`);
      return timed.seconds;
    };
    const uploadWavefier = async (index: number | 'warm-up'): Promise<number> => (await wavefierUpload(commands, logDir, `wavefier upload (${index})`)).timed.seconds;
    const uploadRucio = async (index: number | 'warm-up'): Promise<number> => {
      // New names for the same bytes: a DID is uploaded once.
      const dir = join(work, `rucio-upload-${index}`);
      await mkdir(dir, { recursive: true });
      const names = files.map((name) => name.replace(/\.hdf5$/, `-r${index}.hdf5`));
      await Promise.all(files.map((name, i) => copyFile(join(filesDir, dataset, name), join(dir, names[i] ?? name))));
      const timed = await commands.rucio(`rucio upload (${index})`, [
        'upload', '--rse', rse, '--scope', scope, ...names.map((name) => join(dir, name)), `${scope}:rucio-upload-${index}-${Date.now()}`,
      ]);
      return timed.seconds;
    };

    // One run of each first: token caches filled, Python's and Node's files in the page cache.
    context.log('warm-up: one run of each command');
    await downloadWavefier('warm-up');
    await downloadRucio('warm-up');
    await uploadWavefier('warm-up');
    await uploadRucio('warm-up');

    context.log(`download of the closed ${chunks}-chunk dataset, ${runs} runs each`);
    const downloads = await alternate(runs, downloadWavefier, downloadRucio);
    context.log(`upload of ${chunks} chunks, ${runs} runs each`);
    const uploads = await alternate(runs, uploadWavefier, uploadRucio);
    const loadAfter = loadavg()[0] ?? Number.NaN;
    return [
      ...sideMetrics(
        {
          wavefier: `wavefier download --until-closed (${chunks} chunks)`,
          rucio: 'rucio download',
          ratio: 'download: rucio download / wavefier download (medians)',
          ratioTarget: '>= 1',
          ratioNote: 'issue 18: at most as long as the official client',
        },
        downloads,
      ),
      ...sideMetrics(
        {
          wavefier: `wavefier upload --count ${chunks} --as-fast-as-possible`,
          rucio: `rucio upload (${chunks} files)`,
          ratio: 'upload: rucio upload / wavefier upload (medians)',
          ratioTarget: '>= 3',
          ratioNote: 'issue 18: at least 3x faster than one rucio upload of the same files',
        },
        uploads,
      ),
      { name: 'load average before', value: round(loadBefore, 2), unit: '', key: 'load.before', note: '1-minute; 2 cores: above 2, other work shared the machine' },
      { name: 'load average after', value: round(loadAfter, 2), unit: '', key: 'load.after' },
    ];
  } finally {
    await peer.stop();
  }
}

export const rucioReal: Benchmark = {
  name: 'rucio-real',
  title: 'Start-up against a real Rucio 1.31.7 server: wavefier vs the official client, side by side',
  description:
    `A real Rucio 1.31.7 server from the peers kit (../shared/peers/rucio, SQLite). Download: a closed ${chunks}-chunk dataset ` +
    '(synthetic 1 s chunks, 45 kB each, on the posix RSE LOCAL_POSIX) fetched and verified by `wavefier download --until-closed` ' +
    '(default settings: the dataset is closed, so it is verified in the download process, without Redis or worker processes) and by the official `rucio download` into a new directory. ' +
    `Upload: \`wavefier upload --count ${chunks} --as-fast-as-possible\` (a new dataset) and one \`rucio upload\` of ${chunks} files ` +
    'with the same bytes into a new dataset. Each command is a process of its own, timed from its start to its exit ' +
    `(what a user waits for); one warm-up run each, then ${runs} runs each, alternating which client goes first. ` +
    'Issue 18: wavefier downloads at most as slowly as `rucio download` and uploads at least 3x faster than `rucio upload`.',
  run: runRucioReal,
};
