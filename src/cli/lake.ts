import { Command, Option } from 'commander';
import { UsageError } from '../common/errors.js';
import { parseDuration } from '../common/duration.js';
import { checkUserPath } from '../common/safe-path.js';
import { watchStdoutReader } from '../common/stdout-reader.js';
import { contextFor, type RegisterCommand } from './runtime.js';
import { untilAborted } from '../common/abort.js';

interface ServeFlags {
  dir: string;
  port: string;
  s3Port: string;
  s3TlsPort: string;
  host: string;
  tokenLifetime: string;
  davsRse: string[];
}

/** `[NAME=]URL`: a WebDAV RSE for the lake to describe. */
function davsRse(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function parseDavsRse(value: string): { name?: string; url: string } {
  const named = /^([A-Za-z0-9_-]+)=(.+)$/.exec(value);
  return named === null ? { url: value } : { name: named[1] ?? '', url: named[2] ?? '' };
}

function parsePort(text: string, flag: string): number {
  if (!/^\d+$/.test(text) || Number(text) > 65_535) throw new UsageError(`invalid ${flag} '${text}': use a port number 0-65535 (0 = ephemeral)`);
  return Number(text);
}


export const registerLake: RegisterCommand = (program, runtime) => {
  const lake = new Command('lake').description('the embedded data lake: a local Rucio-compatible catalog over SQLite plus an S3 server');
  lake
    .command('serve')
    .description('run the embedded lake until SIGINT/SIGTERM and print how to connect to it')
    .addOption(new Option('--dir <dir>', 'state directory (database, objects, etc/rucio.cfg)').default('./.wavefier/lake'))
    .addOption(new Option('--port <n>', 'catalog (Rucio REST) port, 0 = ephemeral').default('0'))
    .addOption(new Option('--s3-port <n>', 'S3 port (plain HTTP, for S3 tools), 0 = ephemeral').default('0'))
    .addOption(new Option('--s3-tls-port <n>', "port of the same storage over TLS, the one the RSEs' PFNs name (LAKE_S3, LAKE_SIGNED), 0 = ephemeral").default('0'))
    .addOption(new Option('--host <address>', 'address to listen on').default('127.0.0.1'))
    .addOption(new Option('--token-lifetime <duration>', 'lifetime of auth tokens').default('1h'))
    .addOption(
      new Option(
        '--davs-rse <[NAME=]url>',
        'also describe a WebDAV RSE (default name LAKE_DAVS) at https://host:port/path/; clients use their own X.509 proxy, certificate or bearer token (repeatable)',
      )
        .argParser(davsRse)
        .default([]),
    )
    .action(async (flags: ServeFlags, command: Command) => {
      const ctx = contextFor(command, runtime);
      const options = {
        dir: checkUserPath(flags.dir, '--dir'),
        host: flags.host,
        port: parsePort(flags.port, '--port'),
        s3Port: parsePort(flags.s3Port, '--s3-port'),
        s3TlsPort: parsePort(flags.s3TlsPort, '--s3-tls-port'),
        tokenLifetimeMs: parseDuration(flags.tokenLifetime, '--token-lifetime'),
        davsRses: flags.davsRse.map(parseDavsRse),
      };
      if (ctx.signal.aborted) return;
      const { startLake } = await import('../lake/index.js');
      const started = await startLake(options);
      try {
        const s = started.settings;
        const text = [
          `embedded lake ready (state in ${s.dir})`,
          `  Rucio host:  ${s.rucioHost}   (auth host: ${s.authHost})`,
          `  account:     ${s.account}   username: ${s.username}   password: in ${s.rucioCfgPath}`,
          `  scopes:      ${s.scopes.join(', ')}`,
          `  RSEs:        ${s.rses.map((rse) => `${rse.name} (${rse.pfnPrefix})`).join(', ')}`,
          `  S3 endpoint: ${s.s3.tlsEndpoint} (CA ${s.caCert}; plain HTTP: ${s.s3.endpoint})   credentials: ${s.rseAccountsPath}`,
          `  admin token: in ${s.dir}/admin-token`,
          '',
          `  export RUCIO_HOME=${s.rucioHome}`,
          `  export X509_CERT_DIR=${s.storageCa.caDir}   # for the official client's gfal2, which verifies https storage with it`,
          '',
          'Press Ctrl-C to stop.',
        ].join('\n');
        // Whoever reads our stdout may stop before we do (`lake serve --json | head -1`): then the
        // lake stops too, with exit 0, as a filter ends on a closed pipe.
        const stdout = runtime.stdout ?? process.stdout;
        const why = { readerGone: false };
        let wakeUp: () => void = () => undefined;
        const stopped = new Promise<void>((resolve) => (wakeUp = resolve));
        const gone = (): void => {
          why.readerGone = true;
          wakeUp();
        };
        stdout.on('error', (error: NodeJS.ErrnoException) => (error.code === 'EPIPE' ? gone() : undefined));
        const watcher = stdout === process.stdout ? watchStdoutReader(gone) : { stop: () => undefined };
        ctx.output.result({ event: 'lake-ready', ...s }, text);
        await Promise.race([stopped, untilAborted(ctx.signal)]);
        watcher.stop();
        ctx.output.info(why.readerGone ? 'wavefier lake: the reader of its output went away, stopping' : 'wavefier lake: stopping');
      } finally {
        await started.close();
      }
    });
  program.addCommand(lake);
};
