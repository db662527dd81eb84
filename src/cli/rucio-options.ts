import { existsSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { definedProps } from '../common/defined.js';
import { UsageError } from '../common/errors.js';
import { authTypes, type AuthType } from '../rucio/auth-types.js';
import type { RucioConfig, RucioSettings } from '../rucio/config.js';
import type { RucioClient } from '../rucio/index.js';
import { eitherName } from './parse.js';

/** The values of the Rucio connection flags, as commander hands them to an action. */
export interface RucioFlags {
  host?: string;
  authHost?: string;
  account?: string;
  vo?: string;
  authStrategy?: AuthType;
  caCertificate?: string;
  certificate?: string;
  clientKey?: string;
  user?: string;
  config?: string;
  insecure?: boolean;
  /** The names wavefier used before it spoke the rucio client's dialect; still accepted, not listed. */
  rucioHost?: string;
  authType?: AuthType;
  caCert?: string;
  bearerTokenFile?: string;
}

/** Where the password comes from: never a flag (it would show in `ps` and in shell histories). */
export const passwordVariable = 'RUCIO_PASSWORD';

function refusePassword(flag: string): () => never {
  return () => {
    throw new UsageError(
      `${flag} is not accepted: a password on the command line shows in \`ps\` and in shell histories; ` +
        `set ${passwordVariable} in the environment or password in rucio.cfg [client]`,
    );
  };
}

/**
 * The Rucio connection flags, defined once, named as the official `rucio` client names them; program.ts
 * adds them to every subcommand that talks to Rucio (commander's "global options added" pattern).
 * They override the environment and rucio.cfg. The older wavefier names (--rucio-host, --auth-type,
 * --ca-cert) are hidden aliases, so scripts written for them keep working.
 */
function rucioOptions(): Option[] {
  const listed = [
    new Option('-H, --host <url>', 'Rucio server URL (default: RUCIO_HOST, then rucio.cfg [client] rucio_host)'),
    new Option('--auth-host <url>', 'Rucio auth server URL (default: RUCIO_AUTH_HOST, then rucio.cfg, then the Rucio host)'),
    new Option('-a, --account <name>', 'Rucio account (default: RUCIO_ACCOUNT, then rucio.cfg)'),
    new Option('--vo <vo>', 'Rucio VO (default: RUCIO_VO, then rucio.cfg, then def)'),
    new Option('-S, --auth-strategy <type>', 'how to authenticate (default: RUCIO_AUTH_TYPE, then rucio.cfg)').choices(authTypes),
    new Option('-u, --user <name>', `username for userpass; the password comes from ${passwordVariable} or rucio.cfg, never from a flag`),
    new Option('--certificate <path>', 'client certificate for x509 (default: RUCIO_CLIENT_CERT, then rucio.cfg client_cert)'),
    new Option('--client-key <path>', 'key of the client certificate (default: RUCIO_CLIENT_KEY, then rucio.cfg client_key)'),
    new Option('--ca-certificate <path>', 'CA bundle file or directory to verify the Rucio servers and storage (default: X509_CERT_DIR, then rucio.cfg ca_cert)'),
    new Option('--config <file>', 'the rucio.cfg to read (default: RUCIO_CONFIG, then $RUCIO_HOME/etc/rucio.cfg, ...)'),
    new Option('--insecure', 'do not verify TLS certificates of the Rucio servers (testing only)'),
    new Option(
      '--bearer-token-file <path>',
      'WLCG bearer token for storage (Authorization: Bearer) and for --auth-strategy token/oidc ' +
        '(default: BEARER_TOKEN, BEARER_TOKEN_FILE, $XDG_RUNTIME_DIR/bt_u<uid>, /tmp/bt_u<uid>)',
    ),
  ];
  const hidden = [
    new Option('--rucio-host <url>').hideHelp(),
    new Option('--auth-type <type>').choices(authTypes).hideHelp(),
    new Option('--ca-cert <path>').hideHelp(),
    new Option('--password <secret>').argParser(refusePassword('--password')).hideHelp(),
    new Option('--pwd <secret>').argParser(refusePassword('--pwd')).hideHelp(),
  ];
  return [...listed, ...hidden].map((option) => option.helpGroup('Rucio connection:'));
}

export function addRucioOptions(command: Command): Command {
  for (const option of rucioOptions()) command.addOption(option);
  return command;
}

/** The flags that were given, as the arguments that give them again (for child processes). */
export function rucioFlagArgs(flags: RucioFlags): string[] {
  return rucioOptions().flatMap((option) => {
    const value: unknown = (flags as Record<string, unknown>)[option.attributeName()];
    if (option.long === undefined) return [];
    if (typeof value === 'string') return [option.long, value];
    return value === true ? [option.long] : [];
  });
}

/** The connection settings the flags give; the rest comes from the environment and rucio.cfg. */
function settingsFromFlags(flags: RucioFlags): Partial<RucioSettings> {
  return definedProps({
    rucioHost: eitherName('--host', flags.host, '--rucio-host', flags.rucioHost),
    authHost: flags.authHost,
    account: flags.account,
    vo: flags.vo,
    authType: eitherName('--auth-strategy', flags.authStrategy, '--auth-type', flags.authType),
    username: flags.user,
    clientCert: flags.certificate,
    clientKey: flags.clientKey,
    caCert: eitherName('--ca-certificate', flags.caCertificate, '--ca-cert', flags.caCert),
    insecure: flags.insecure === true ? true : undefined,
    tokenFile: flags.bearerTokenFile,
  });
}

let insecureWarned = false;

/**
 * --insecure turns certificate checks off for the Rucio servers and the storage URLs they hand out:
 * said once per process on stderr, so that it is never silently in effect.
 */
export function warnInsecureOnce(stderr: NodeJS.WritableStream = process.stderr): void {
  if (insecureWarned) return;
  insecureWarned = true;
  stderr.write(
    'wavefier: warning: --insecure: TLS certificates of the Rucio servers and of storage are not verified; ' +
      'anyone on the network path can read and change this traffic, tokens and passwords included (for tests only; use --ca-certificate for a private CA)\n',
  );
}

/** The environment the configuration is read with: --config stands for RUCIO_CONFIG. */
function environmentFor(flags: RucioFlags, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  if (flags.config === undefined) return env;
  if (!existsSync(flags.config)) throw new UsageError(`--config ${flags.config}: no such file; give the path of a rucio.cfg`);
  return { ...env, RUCIO_CONFIG: flags.config };
}

/** The effective configuration: flags > environment (RUCIO_*) > rucio.cfg. */
export async function rucioConfigFromFlags(flags: RucioFlags, env: NodeJS.ProcessEnv = process.env): Promise<RucioConfig> {
  const { loadRucioConfig } = await import('../rucio/config.js');
  const config = await loadRucioConfig({ flags: settingsFromFlags(flags), env: environmentFor(flags, env) });
  if (config.insecure) warnInsecureOnce();
  return config;
}

export async function rucioClientFromFlags(flags: RucioFlags, env: NodeJS.ProcessEnv = process.env): Promise<{ config: RucioConfig; client: RucioClient }> {
  const config = await rucioConfigFromFlags(flags, env);
  return { config, client: await rucioClientFor(config, flags, env) };
}

/** The client for a configuration rucioConfigFromFlags read (a caller that starts work between the two). */
export async function rucioClientFor(config: RucioConfig, flags: RucioFlags, env: NodeJS.ProcessEnv = process.env): Promise<RucioClient> {
  const { RucioClient: Client } = await import('../rucio/client.js');
  return new Client(config, { env: environmentFor(flags, env) });
}
