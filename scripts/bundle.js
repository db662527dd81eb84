// Bundles the command-line program into dist/bundle/ (run by `npm run build`, after tsc).
//
// Why: every wavefier process (the CLI, and each download worker process a download starts) used to
// load ~660 separate modules (BullMQ, ioredis, undici, zod, h5wasm, commander and wavefier's own),
// ~0.75 s of CPU before a download worker could verify its first chunk. One ESM bundle, split at
// wavefier's own dynamic imports so that a command loads only what it uses, is read from a few files
// and skips the module resolution and per-file work; bin/wavefier runs it. The tsc output in dist/
// stays what the tests and tools import.
//
// Native add-ons stay outside the bundle: they load their compiled .node files relative to their own
// package. CommonJS dependencies (ioredis, BullMQ) call require() for Node's built-ins, which an ES
// module does not have: the banner gives the bundle one. Some also read files next to themselves
// through __dirname (ioredis its package.json, for the client info it gives Redis): each such module
// gets the __dirname and __filename of its own file in node_modules, resolved when it first runs.
// Source maps (with the TypeScript sources inside) let `wavefier --debug` print stack traces that
// point at src/ (bin/wavefier turns them on with --debug).
//
// h5wasm's Node build carries its WebAssembly inside its JavaScript, as a 4 MB string literal that
// every process loading the HDF5 decoder read as UTF-8, parsed and decoded byte by byte (~130 ms of
// CPU in each download worker process): the bundle gets those bytes as a file next to it instead.
import { createHash } from 'node:crypto';
import { createRequire, isBuiltin } from 'node:module';
import { realpathSync } from 'node:fs';
import { readFile, rm, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { runInNewContext } from 'node:vm';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist', 'bundle');

/** Native add-ons: not bundled (see above). */
const external = ['better-sqlite3', '@resvg/resvg-js', 'msgpackr-extract'];

const banner = [
  "import { createRequire as __wavefierCreateRequire } from 'node:module';",
  'const require = __wavefierCreateRequire(import.meta.url);',
  // Where a bundled dependency's file is installed (undefined when its package does not let it be resolved).
  'const __wavefierDependencyFile = (path) => { try { return require.resolve(path); } catch { return undefined; } };',
].join(' ');

// esbuild names files by their real path: a node_modules that is a symlink (a checkout sharing
// another's install) must be compared by its real path too, or no module would be found in it.
const installedModules = realpathSync(join(root, 'node_modules'));

/** Gives each bundled module of node_modules that uses __dirname or __filename its own. */
const dependencyPaths = {
  name: 'dependency-paths',
  setup(plugin) {
    plugin.onLoad({ filter: /[\\/]node_modules[\\/].*\.c?js$/ }, async (args) => {
      const contents = await readFile(args.path, 'utf8');
      if (!/\b__(dirname|filename)\b/.test(contents)) return undefined;
      const installed = relative(installedModules, args.path).split(sep).join('/');
      const prelude =
        `var __filename = __wavefierDependencyFile(${JSON.stringify(installed)}), ` +
        "__dirname = __filename === undefined ? undefined : __filename.slice(0, __filename.lastIndexOf('/'));";
      return { contents: `${prelude}\n${contents}`, loader: 'js', resolveDir: dirname(args.path) };
    });
  },
};

/** The end of the JavaScript string literal (quoted with `quote`) that starts at `start`. */
function literalEnd(text, start, quote) {
  for (let index = start + 1; index < text.length; index++) {
    if (text[index] === '\\') index++;
    else if (text[index] === quote) return index + 1;
  }
  throw new Error('unterminated string literal');
}

/**
 * h5wasm's WebAssembly as a file of the bundle: `findWasmBinary()`, which decoded the inline string
 * (emscripten's SINGLE_FILE build: one character per byte), reads the file instead. A build of
 * h5wasm that does not have that shape, or bytes that are not valid WebAssembly, fail the build:
 * the decoder is checked here, not at a user's first chunk.
 */
const h5wasmBinaryFile = {
  name: 'h5wasm-binary-file',
  setup(plugin) {
    plugin.onLoad({ filter: /[\\/]node_modules[\\/]h5wasm[\\/]dist[\\/]node[\\/]hdf5_util\.js$/ }, async (args) => {
      const contents = await readFile(args.path, 'utf8');
      const head = 'function findWasmBinary(){return binaryDecode(';
      const at = contents.indexOf(head);
      const quote = contents[at + head.length];
      if (at < 0 || contents.indexOf(head, at + 1) >= 0 || (quote !== "'" && quote !== '"')) {
        throw new Error(`${args.path}: no single inline WebAssembly binary found (h5wasm changed its build?): update scripts/bundle.js`);
      }
      const start = at + head.length;
      const end = literalEnd(contents, start, quote);
      if (contents.slice(end, end + 2) !== ')}') throw new Error(`${args.path}: unexpected findWasmBinary() shape: update scripts/bundle.js`);
      // The literal is evaluated as JavaScript (its escapes), then decoded as h5wasm's binaryDecode does.
      const text = runInNewContext(contents.slice(start, end));
      const bytes = Uint8Array.from(text, (char) => char.charCodeAt(0) & 0xff);
      if (!globalThis.WebAssembly.validate(bytes)) throw new Error(`${args.path}: the inline WebAssembly binary does not validate`);
      const name = `hdf5_util-${createHash('sha256').update(bytes).digest('hex').slice(0, 12)}.wasm`;
      await mkdir(outdir, { recursive: true });
      await writeFile(join(outdir, name), bytes);
      const reader = `function findWasmBinary(){return __h5wasmReadFileSync(new URL(${JSON.stringify(`./${name}`)}, import.meta.url))}`;
      const rewritten = `import { readFileSync as __h5wasmReadFileSync } from 'node:fs';\n${contents.slice(0, at)}${reader}${contents.slice(end + 2)}`;
      return { contents: rewritten, loader: 'js', resolveDir: dirname(args.path) };
    });
  },
};

/**
 * `await import('bullmq')` gives Node's view of a CommonJS package: its exports as named exports.
 * esbuild, when it splits the bundle, gives a dynamically imported CommonJS module a default export
 * only, so `const { Queue } = await import('bullmq')` would find nothing: each dynamic import of a
 * bundled package in wavefier's sources goes through an ES module that re-exports it by name, as
 * Node would.
 */
const dynamicPackageImports = {
  name: 'dynamic-package-imports',
  setup(plugin) {
    plugin.onResolve({ filter: /^[^./]/ }, async (args) => {
      const ours = args.importer.startsWith(join(root, 'src') + sep);
      if (args.kind !== 'dynamic-import' || !ours || isBuiltin(args.path) || external.includes(args.path) || args.pluginData?.wrapped === true) return undefined;
      const resolved = await plugin.resolve(args.path, { kind: 'import-statement', resolveDir: args.resolveDir, pluginData: { wrapped: true } });
      if (resolved.errors.length > 0 || resolved.external || !(await isCommonJs(resolved.path))) return undefined;
      return { path: args.path, namespace: 'dynamic-package', pluginData: { resolveDir: args.resolveDir, file: resolved.path } };
    });
    plugin.onLoad({ filter: /.*/, namespace: 'dynamic-package' }, (args) => {
      // The names are those the package exports once loaded (Node finds them by reading its source).
      const names = Object.keys(createRequire(args.pluginData.file)(args.pluginData.file)).filter((name) => name !== 'default' && /^[A-Za-z_$][\w$]*$/.test(name));
      const specifier = JSON.stringify(args.path);
      return {
        contents: `const module = require(${specifier});\nexport default module;\nexport const { ${names.join(', ')} } = module;\n`,
        loader: 'js',
        resolveDir: args.pluginData.resolveDir,
      };
    });
  },
};

/** Whether Node loads this file as CommonJS: by its extension, else by the "type" of its package.json. */
async function isCommonJs(file) {
  if (file.endsWith('.cjs')) return true;
  if (file.endsWith('.mjs')) return false;
  for (let dir = dirname(file); dir !== dirname(dir); dir = dirname(dir)) {
    const manifest = await readFile(join(dir, 'package.json'), 'utf8').catch(() => undefined);
    if (manifest !== undefined) return JSON.parse(manifest).type !== 'module';
  }
  return true;
}

// A bundle of older sources must not outlive a build that could not make a new one.
await rm(outdir, { recursive: true, force: true });
let build;
try {
  ({ build } = await import('esbuild'));
} catch (error) {
  if (error?.code !== 'ERR_MODULE_NOT_FOUND') throw error;
  // A node_modules installed before esbuild was a dependency: bin/wavefier runs the tsc build instead.
  process.stderr.write('bundle: esbuild is not installed (run `npm ci`): bin/wavefier runs the unbundled dist/cli/main.js, which starts slower\n');
  process.exit(0);
}
await build({
  absWorkingDir: root,
  entryPoints: { main: 'src/cli/main.ts' },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  outExtension: { '.js': '.mjs' },
  sourcemap: 'linked',
  // Class and function names as written: h5wasm's entities are told apart by constructor.name, and
  // error names and stack traces name the classes of the sources.
  keepNames: true,
  // Less source for V8 to scan and parse at each start (~45 ms less CPU before a download worker
  // process is ready); the source maps still name the TypeScript lines and identifiers.
  minify: true,
  external,
  banner: { js: banner },
  plugins: [dynamicPackageImports, h5wasmBinaryFile, dependencyPaths],
  logLevel: 'warning',
});
