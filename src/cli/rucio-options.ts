import { Option, type Command } from 'commander';
import { definedProps } from '../common/defined.js';
import { authTypes, type AuthType } from '../rucio/auth-types.js';
import type { RucioConfig, RucioSettings } from '../rucio/config.js';
import type { RucioClient } from '../rucio/index.js';

/** The values of the Rucio connection flags, as commander hands them to an action. */
export interface RucioFlags {
  rucioHost?: string;
  authHost?: string;
  account?: string;
  vo?: string;
  authType?: AuthType;
  caCert?: string;
  insecure?: boolean;
  bearerTokenFile?: string;
}

/**
 * The Rucio connection flags, defined once; program.ts adds them to every subcommand that talks to
 * Rucio (commander's "global options added" pattern). They override the environment and rucio.cfg.
 * Passwords and tokens are not among them: they would show in `ps` and shell histories; they come
 * from rucio.cfg or the environment (a token file may be named).
 */
function rucioOptions(): Option[] {
  return [
    new Option('--rucio-host <url>', 'Rucio server URL (default: RUCIO_HOST, then rucio.cfg [client] rucio_host)'),
    new Option('--auth-host <url>', 'Rucio auth server URL (default: RUCIO_AUTH_HOST, then rucio.cfg, then the Rucio host)'),
    new Option('--account <name>', 'Rucio account (default: RUCIO_ACCOUNT, then rucio.cfg)'),
    new Option('--vo <vo>', 'Rucio VO (default: RUCIO_VO, then rucio.cfg, then def)'),
    new Option('--auth-type <type>', 'how to authenticate (default: RUCIO_AUTH_TYPE, then rucio.cfg)').choices(authTypes),
    new Option('--ca-cert <path>', 'CA bundle file or directory to verify the Rucio servers and storage (default: X509_CERT_DIR, then rucio.cfg)'),
    new Option('--insecure', 'do not verify TLS certificates of the Rucio servers (testing only)'),
    new Option(
      '--bearer-token-file <path>',
      'WLCG bearer token for storage (Authorization: Bearer) and for --auth-type token/oidc ' +
        '(default: BEARER_TOKEN, BEARER_TOKEN_FILE, $XDG_RUNTIME_DIR/bt_u<uid>, /tmp/bt_u<uid>)',
    ),
  ].map((option) => option.helpGroup('Rucio connection:'));
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
    rucioHost: flags.rucioHost,
    authHost: flags.authHost,
    account: flags.account,
    vo: flags.vo,
    authType: flags.authType,
    caCert: flags.caCert,
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
      'anyone on the network path can read and change this traffic, tokens and passwords included (for tests only; use --ca-cert for a private CA)\n',
  );
}

/** The effective configuration: flags > environment (RUCIO_*) > rucio.cfg. */
export async function rucioConfigFromFlags(flags: RucioFlags, env: NodeJS.ProcessEnv = process.env): Promise<RucioConfig> {
  const { loadRucioConfig } = await import('../rucio/config.js');
  const config = await loadRucioConfig({ flags: settingsFromFlags(flags), env });
  if (config.insecure) warnInsecureOnce();
  return config;
}

export async function rucioClientFromFlags(flags: RucioFlags, env: NodeJS.ProcessEnv = process.env): Promise<{ config: RucioConfig; client: RucioClient }> {
  const config = await rucioConfigFromFlags(flags, env);
  const { RucioClient: Client } = await import('../rucio/client.js');
  return { config, client: new Client(config, { env }) };
}
