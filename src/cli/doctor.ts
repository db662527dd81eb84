import { performance } from 'node:perf_hooks';
import { Option, type Command } from 'commander';
import { ExitCode, RuntimeFailure, WavefierError, errorMessage, isWavefierError } from '../common/errors.js';
import { redactUrl } from '../common/redact.js';
import type { AuthType, RucioSettings } from '../rucio/config.js';

// The same list as src/rucio/config.ts, kept here so that `--help` does not load the config module.
const authTypes: readonly AuthType[] = ['userpass', 'x509', 'x509_proxy', 'token', 'oidc'];
import type { CheckResult } from '../rucio/index.js';
import { contextFor, type RegisterCommand } from './runtime.js';

interface DoctorOptions {
  rucioHost?: string;
  authHost?: string;
  account?: string;
  authType?: AuthType;
  vo?: string;
  caCert?: string;
  rse?: string;
  scope?: string;
  write: boolean;
  redis?: string;
}

async function checkRedis(url: string): Promise<CheckResult> {
  const started = performance.now();
  const { Redis } = await import('ioredis');
  const redis = new Redis(url, { lazyConnect: true, connectTimeout: 2_000, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  let lastError: unknown;
  redis.on('error', (error: unknown) => (lastError = error));
  try {
    await redis.connect();
    const answer = await redis.ping();
    return { check: 'redis', ok: true, detail: `${redactUrl(url)} answered ${answer}`, ms: performance.now() - started };
  } catch (error) {
    return {
      check: 'redis',
      ok: false,
      detail: `${redactUrl(url)}: ${errorMessage(lastError ?? error)}`,
      fix: 'start redis-server or fix --redis (redis://[:password@]host:port[/db])',
      ms: performance.now() - started,
      exitCode: ExitCode.runtime,
    };
  } finally {
    redis.disconnect();
  }
}

export const registerDoctor: RegisterCommand = (program, runtime) => {
  program
    .command('doctor')
    .description('check the Rucio configuration, server, authentication, RSE storage and Redis, one line per check')
    .option('--rucio-host <url>', 'Rucio server URL (overrides RUCIO_HOST and rucio.cfg)')
    .option('--auth-host <url>', 'Rucio auth server URL (overrides RUCIO_AUTH_HOST and rucio.cfg)')
    .option('--account <name>', 'Rucio account (overrides RUCIO_ACCOUNT and rucio.cfg)')
    .addOption(new Option('--auth-type <type>', 'authentication method').choices([...authTypes]))
    .option('--vo <vo>', 'Rucio VO (overrides RUCIO_VO)')
    .option('--ca-cert <path>', 'CA bundle file or directory for TLS verification')
    .option('--rse <name>', 'RSE to probe: write, read back and delete a small object')
    .option('--scope <scope>', 'scope used to place the probe object (default user.<account>)')
    .option('--no-write', 'resolve the RSE and its protocol but write nothing')
    .option('--redis <url>', 'also check Redis at this URL (PING)')
    .action(async (options: DoctorOptions, command: Command) => {
      const ctx = contextFor(command, runtime);
      const env = runtime.env ?? process.env;
      const flags: Partial<RucioSettings> = {
        ...(options.rucioHost !== undefined ? { rucioHost: options.rucioHost } : {}),
        ...(options.authHost !== undefined ? { authHost: options.authHost } : {}),
        ...(options.account !== undefined ? { account: options.account } : {}),
        ...(options.authType !== undefined ? { authType: options.authType } : {}),
        ...(options.vo !== undefined ? { vo: options.vo } : {}),
        ...(options.caCert !== undefined ? { caCert: options.caCert } : {}),
      };
      const [{ diagnoseRucio, skipped }, { loadRucioConfig }] = await Promise.all([import('../rucio/diagnose.js'), import('../rucio/config.js')]);
      const results: CheckResult[] = [];
      const started = performance.now();
      try {
        const config = await loadRucioConfig({ flags, env });
        results.push({
          check: 'config',
          ok: true,
          detail: `${config.configFile ?? 'no rucio.cfg'}: rucio_host ${config.rucioHost}, auth ${config.authType} at ${config.authHost}, account ${config.account}, vo ${config.vo}`,
          ms: performance.now() - started,
        });
        results.push(...(await diagnoseRucio(config, { rse: options.rse, write: options.write, scope: options.scope, env })));
      } catch (error) {
        results.push({
          check: 'config',
          ok: false,
          detail: errorMessage(error),
          fix: 'see "Connecting to a Rucio deployment" in README: set RUCIO_HOME/RUCIO_CONFIG or pass --rucio-host and --account',
          ms: performance.now() - started,
          exitCode: isWavefierError(error) ? error.exitCode : ExitCode.usage,
        });
        results.push(skipped('reachability', 'no usable configuration'), skipped('authentication', 'no usable configuration'), skipped('rse', 'no usable configuration'));
      }
      if (options.redis !== undefined) results.push(await checkRedis(options.redis));
      for (const r of results) {
        const mark = r.skipped === true ? 'skip' : r.ok ? 'ok  ' : 'FAIL';
        // Hosts may carry user:password@ (from a flag or rucio.cfg): never print it.
        const detail = redactUrl(r.detail);
        const fix = r.fix === undefined ? undefined : redactUrl(r.fix);
        const text = `${mark}  ${r.check.padEnd(14)} ${detail}${r.ok ? '' : `\n      fix: ${fix ?? ''}`}`;
        ctx.output.result({ check: r.check, ok: r.ok, skipped: r.skipped === true, detail, ...(fix ? { fix } : {}), ms: Math.round(r.ms * 10) / 10 }, text);
      }
      const failed = results.filter((r) => !r.ok);
      if (failed.length > 0) {
        const names = failed.map((r) => r.check).join(', ');
        const exit = failed[0]?.exitCode === ExitCode.usage ? ExitCode.usage : ExitCode.runtime;
        throw exit === ExitCode.usage
          ? new DoctorConfigFailure(`doctor: ${failed.length} check(s) failed: ${names}`)
          : new RuntimeFailure(`doctor: ${failed.length} check(s) failed: ${names}`);
      }
    });
};

class DoctorConfigFailure extends WavefierError {
  constructor(message: string) {
    super(message, { code: 'config', exitCode: ExitCode.usage, retryable: false });
  }
}
