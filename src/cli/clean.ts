import { Option, type Command } from 'commander';
import { RuntimeFailure, UsageError } from '../common/errors.js';
import type { CleanPlan, CleanResult } from '../clean/index.js';
import { datasetArgument } from './did.js';
import { rucioClientFromFlags, type RucioFlags } from './rucio-options.js';
import { contextFor, type RegisterCommand } from './runtime.js';

interface CleanFlags {
  scope: string;
  dataset?: string;
  yes?: boolean;
  force?: boolean;
}

export const registerClean: RegisterCommand = (program, runtime) => {
  program
    .command('clean')
    .description(
      'erase what a rehearsal registered and stored: its objects from storage, its rules, and the dataset (erased as `rucio erase` does); ' +
        'a dry run unless --yes',
    )
    .argument('[did]', 'the dataset, scope:name (or --scope and --dataset)')
    .addOption(new Option('--scope <scope>', 'Rucio scope of the dataset').default('wavefier'))
    .addOption(new Option('--dataset <name>', 'the dataset to erase'))
    .addOption(new Option('--yes', 'act: without it, clean only prints what it would delete'))
    .addOption(new Option('--force', 'also erase a dataset wavefier did not create (no wavefier marker in its metadata)'))
    .addHelpText(
      'after',
      `
What --yes does, in this order (so that a stop half-way loses no way back to the data):
  1. deletes every replica's object from storage through the RSE's protocol (s3, file, davs...),
     with this machine's storage credentials, as the upload wrote them;
  2. deletes the dataset's rules (DELETE /rules/{id}: Rucio expires a deleted rule within the hour,
     and its judge-cleaner removes it; the generic policy lets only root and admins delete rules);
  3. sets the dataset's lifetime to 0 (rucio erase, without its day of grace): Rucio's undertaker
     removes the dataset, and the reaper its files' replicas and file DIDs.
What the account may not do is reported and left; the rest goes on. Without Rucio's daemons (the
embedded lake, a test server) the catalog keeps the expired dataset and its replica entries.
Exit status: 0 done (or dry run), 1 an object, rule or the erase failed, 2 not a dataset, not found,
or not created by wavefier (without --force).`,
    )
    .action(async (did: string | undefined, flags: CleanFlags & RucioFlags, command: Command) => {
      const ctx = contextFor(command, runtime);
      const dataset = datasetArgument(did, command, flags);
      if (dataset === undefined) throw new UsageError('which dataset? give it as scope:name, e.g. wavefier clean wavefier:wavefier-20261126T190836Z-ed20');
      const { client } = await rucioClientFromFlags(flags);
      const { checkCleanable, executeClean, planClean } = await import('../clean/index.js');
      try {
        const plan = await planClean(client, dataset);
        checkCleanable(plan, flags.force === true);
        if (flags.yes !== true) {
          ctx.output.result({ event: 'clean_plan', dry_run: true, ...planJson(plan) }, `${renderPlan(plan)}\n${dryRunLine(plan)}`);
          return;
        }
        ctx.output.info(renderPlan(plan));
        const result = await executeClean(client, plan, (done, total) => ctx.output.status(`deleting objects: ${done}/${total}`));
        ctx.output.result({ event: 'clean_result', dry_run: false, ...planJson(plan), result: resultJson(result) }, renderResult(plan, result));
        for (const rule of result.rules) {
          if (rule.outcome === 'denied' || rule.outcome === 'locked') ctx.output.warn(`rule ${rule.id} on ${rule.rseExpression} kept: ${rule.message ?? rule.outcome}`);
        }
        const failures = [
          result.objects.failed > 0 ? `${result.objects.failed} objects could not be deleted (${result.objectFailures.join('; ')})` : '',
          ...result.rules.filter((rule) => rule.outcome === 'failed').map((rule) => `rule ${rule.id}: ${rule.message ?? 'failed'}`),
          result.erased.done ? '' : `the dataset was not erased: ${result.erased.message}`,
        ].filter((text) => text !== '');
        if (failures.length > 0) throw new RuntimeFailure(`clean of ${dataset.scope}:${dataset.name} incomplete: ${failures.join('; ')}; run it again to retry`);
      } finally {
        await client.close();
      }
    });
};

function planJson(plan: CleanPlan): Record<string, unknown> {
  return {
    did: `${plan.dataset.scope}:${plan.dataset.name}`,
    account: plan.account ?? null,
    created_by_wavefier: plan.createdByWavefier,
    expired_at: plan.expiredAt ?? null,
    files: plan.files,
    replicas: plan.replicas.length,
    replicas_by_rse: byRse(plan),
    bytes: plan.bytes,
    rules: plan.rules.map((rule) => ({ id: rule.id, rse_expression: rule.rseExpression, account: rule.account, state: rule.state, expires_at: rule.expiresAt ?? null })),
  };
}

function resultJson(result: CleanResult): Record<string, unknown> {
  return {
    objects_deleted: result.objects.deleted,
    objects_absent: result.objects.absent,
    objects_failed: result.objects.failed,
    replicas_without_pfn: result.objects['no-pfn'],
    bytes_deleted: result.bytesDeleted,
    object_failures: result.objectFailures,
    rules: result.rules.map((rule) => ({ id: rule.id, rse_expression: rule.rseExpression, outcome: rule.outcome, message: rule.message ?? null })),
    erased: result.erased.done,
    erase_error: result.erased.done ? null : result.erased.message,
  };
}

function byRse(plan: CleanPlan): Record<string, { replicas: number; bytes: number }> {
  const out: Record<string, { replicas: number; bytes: number }> = {};
  for (const replica of plan.replicas) {
    const entry = (out[replica.rse] ??= { replicas: 0, bytes: 0 });
    entry.replicas++;
    entry.bytes += replica.bytes;
  }
  return out;
}

function renderPlan(plan: CleanPlan): string {
  const perRse = Object.entries(byRse(plan)).map(([rse, entry]) => `${entry.replicas} on ${rse} (${formatBytes(entry.bytes)})`);
  const lines = [
    `dataset   ${plan.dataset.scope}:${plan.dataset.name}, account ${plan.account ?? '?'}, ${plan.createdByWavefier ? 'created by wavefier' : 'NOT created by wavefier (--force)'}` +
      (plan.expiredAt === undefined ? '' : `, expires ${plan.expiredAt}`),
    `files     ${plan.files}`,
    `replicas  ${plan.replicas.length === 0 ? 'none' : perRse.join(', ')}; ${formatBytes(plan.bytes)} in all`,
    `rules     ${plan.rules.length === 0 ? 'none' : plan.rules.length}`,
    ...plan.rules.map((rule) => `  ${rule.id}  ${rule.rseExpression}  ${rule.state}, account ${rule.account}${rule.expiresAt === undefined ? '' : `, expires ${rule.expiresAt}`}`),
  ];
  return lines.join('\n');
}

function dryRunLine(plan: CleanPlan): string {
  const objects = plan.replicas.filter((replica) => replica.pfn !== undefined).length;
  return (
    `dry run, nothing changed: --yes deletes ${objects} objects (${formatBytes(plan.bytes)}) from storage, ` +
    `${plan.rules.length} ${plan.rules.length === 1 ? 'rule' : 'rules'}, and erases the dataset`
  );
}

function renderResult(plan: CleanPlan, result: CleanResult): string {
  const { objects } = result;
  const lines = [
    `storage   ${objects.deleted} objects deleted (${formatBytes(result.bytesDeleted)}), ${objects.absent} already absent, ${objects.failed} failed` +
      (objects['no-pfn'] > 0 ? `, ${objects['no-pfn']} replicas without a PFN (not stored yet) left to Rucio` : ''),
    ...result.rules.map((rule) => `rule      ${rule.id} on ${rule.rseExpression}: ${ruleText(rule.outcome)}`),
    result.erased.done
      ? `dataset   ${plan.dataset.scope}:${plan.dataset.name} erased (lifetime 0): Rucio's undertaker removes it, the reaper its files' replicas`
      : `dataset   not erased: ${result.erased.message}`,
  ];
  return lines.join('\n');
}

function ruleText(outcome: string): string {
  switch (outcome) {
    case 'deleted':
      return 'deleted (Rucio expires it within the hour; its judge-cleaner removes it)';
    case 'gone':
      return 'already gone';
    case 'denied':
      return 'kept: the account may not delete rules (ask a Rucio admin)';
    case 'locked':
      return 'kept: locked';
    default:
      return 'failed';
  }
}

function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let value = bytes / 1000;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value.toFixed(value >= 100 ? 0 : 1)} ${units[unit] ?? 'TB'}`;
}
