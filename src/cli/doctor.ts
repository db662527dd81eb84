import { performance } from 'node:perf_hooks';
import type { Command } from 'commander';
import { definedProps } from '../common/defined.js';
import { ConfigError, ExitCode, RuntimeFailure, errorMessage, isWavefierError } from '../common/errors.js';
import { redactUrl } from '../common/redact.js';
import type { CheckResult } from '../rucio/index.js';
import { rucioConfigFromFlags, type RucioFlags } from './rucio-options.js';
import { contextFor, type RegisterCommand } from './runtime.js';

interface DoctorOptions extends RucioFlags {
  rse?: string;
  scope?: string;
  write: boolean;
  redis?: string;
}

export const registerDoctor: RegisterCommand = (program, runtime) => {
  program
    .command('doctor')
    .description('check the Rucio configuration, server, authentication, RSE storage and Redis, one line per check')
    .option('--rse <name>', 'RSE to probe: write, read back and delete a small object')
    .option('--scope <scope>', 'scope used to place the probe object (default user.<account>)')
    .option('--no-write', 'resolve the RSE and its protocol but write nothing')
    .option('--redis <url>', 'also check Redis at this URL (PING)')
    .action(async (options: DoctorOptions, command: Command) => {
      const ctx = contextFor(command, runtime);
      const env = runtime.env ?? process.env;
      const { diagnoseRucio, skipped } = await import('../rucio/diagnose.js');
      const results: CheckResult[] = [];
      const started = performance.now();
      try {
        const config = await rucioConfigFromFlags(options, env);
        results.push({
          check: 'config',
          ok: true,
          detail:
            `${config.configFile ?? 'no rucio.cfg'}: rucio_host ${config.rucioHost}, auth ${config.authType} at ${config.authHost}, ` +
            `account ${config.account}, vo ${config.vo}${config.insecure ? ', TLS certificates not verified (--insecure)' : ''}`,
          ms: performance.now() - started,
        });
        results.push(...(await diagnoseRucio(config, { rse: options.rse, write: options.write, scope: options.scope, env })));
      } catch (error) {
        results.push({
          check: 'config',
          ok: false,
          detail: errorMessage(error),
          fix: 'see "Connecting to a Rucio deployment" in README: set RUCIO_HOME/RUCIO_CONFIG or pass -H/--host and -a/--account',
          ms: performance.now() - started,
          exitCode: isWavefierError(error) ? error.exitCode : ExitCode.usage,
        });
        results.push(skipped('reachability', 'no usable configuration'), skipped('authentication', 'no usable configuration'), skipped('rse', 'no usable configuration'));
      }
      if (options.redis !== undefined) results.push(await redisCheck(options.redis));
      for (const r of results) {
        const mark = r.skipped === true ? 'skip' : r.ok ? 'ok  ' : 'FAIL';
        // Hosts may carry user:password@ (from a flag or rucio.cfg): never print it.
        const detail = redactUrl(r.detail);
        const fix = r.fix === undefined ? undefined : redactUrl(r.fix);
        const text = `${mark}  ${r.check.padEnd(14)} ${detail}${r.ok ? '' : `\n      fix: ${fix ?? ''}`}`;
        ctx.output.result({ check: r.check, ok: r.ok, skipped: r.skipped === true, detail, ...definedProps({ fix }), ms: Math.round(r.ms * 10) / 10 }, text);
      }
      const failed = results.filter((r) => !r.ok);
      if (failed.length > 0) {
        const names = failed.map((r) => r.check).join(', ');
        const exit = failed[0]?.exitCode === ExitCode.usage ? ExitCode.usage : ExitCode.runtime;
        throw exit === ExitCode.usage
          ? new ConfigError(`doctor: ${failed.length} check(s) failed: ${names}`)
          : new RuntimeFailure(`doctor: ${failed.length} check(s) failed: ${names}`);
      }
    });
};

async function redisCheck(url: string): Promise<CheckResult> {
  const { checkRedis } = await import('../redis/index.js');
  const result = await checkRedis(url);
  if (result.ok) return { check: 'redis', ...result };
  return { check: 'redis', ...result, fix: 'start redis-server or fix --redis (redis://[:password@]host:port[/db])', exitCode: ExitCode.runtime };
}
