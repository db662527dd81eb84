import { Option, type Command } from 'commander';
import type { RucioConfig, RucioSettings } from '../rucio/config.js';
import type { RucioClient } from '../rucio/index.js';

/** The connection flags every command that talks to Rucio accepts; they override env and rucio.cfg. */
export function addRucioOptions(command: Command): Command {
  return command
    .addOption(new Option('--rucio-host <url>', 'Rucio server URL (default: RUCIO_HOST, then rucio.cfg [client] rucio_host)'))
    .addOption(new Option('--auth-host <url>', 'Rucio auth server URL (default: the Rucio host)'))
    .addOption(new Option('--account <name>', 'Rucio account (default: RUCIO_ACCOUNT, then rucio.cfg)'))
    .addOption(new Option('--auth-type <type>', 'userpass, x509, x509_proxy or token').choices(['userpass', 'x509', 'x509_proxy', 'token']))
    .addOption(new Option('--ca-cert <path>', 'CA bundle file or directory to verify the Rucio servers'))
    .addOption(new Option('--insecure', 'do not verify TLS certificates of the Rucio servers (testing only)'));
}

interface RucioFlags {
  rucioHost?: string;
  authHost?: string;
  account?: string;
  authType?: RucioSettings['authType'];
  caCert?: string;
  insecure?: boolean;
}

/**
 * The effective configuration: flags > environment (RUCIO_*) > rucio.cfg. Passwords and tokens
 * never come from flags (they would show in `ps` and shell history); they come from rucio.cfg or
 * the environment.
 */
export async function rucioConfigFromFlags(options: RucioFlags, env: NodeJS.ProcessEnv = process.env): Promise<RucioConfig> {
  const flags: Partial<RucioSettings> = {
    ...(options.rucioHost === undefined ? {} : { rucioHost: options.rucioHost }),
    ...(options.authHost === undefined ? {} : { authHost: options.authHost }),
    ...(options.account === undefined ? {} : { account: options.account }),
    ...(options.authType === undefined ? {} : { authType: options.authType }),
    ...(options.caCert === undefined ? {} : { caCert: options.caCert }),
    ...(options.insecure === true ? { insecure: true } : {}),
  };
  const { loadRucioConfig } = await import('../rucio/config.js');
  return loadRucioConfig({ flags, env });
}

export async function rucioClientFromFlags(options: RucioFlags): Promise<{ config: RucioConfig; client: RucioClient }> {
  const config = await rucioConfigFromFlags(options);
  const { RucioClient: Client } = await import('../rucio/client.js');
  return { config, client: new Client(config) };
}
