import { definedProps } from '../../src/common/defined.js';
import { errorMessage } from '../../src/common/errors.js';
import type { FaultCounters, FaultSpec } from '../../src/lake/index.js';
import type { PrivateRedis } from '../../src/redis/index.js';
import type { LakeProcess } from '../../src/rehearse/index.js';
import type { SoakFleet } from './fleet.js';
import { describeStep, type FaultStep } from './schedule.js';

export interface InjectedFault {
  step: FaultStep;
  description: string;
  /** Epoch ms when it fired, and ms since the soak started. */
  time: number;
  elapsedMs: number;
  /** Chunks uploaded (per the logs) when it fired. */
  progress: number;
  injected: boolean;
  outcome: string;
}

/** A lake rule that lives for a window (a burst, a latency spell), in front of the run-long ones. */
interface TransientRule {
  side: 'catalog' | 'storage';
  rule: Record<string, unknown>;
  until: number;
  onExpire: (counters: FaultCounters) => void;
}

/**
 * Injects the schedule's faults into the running soak: kills through the fleet, Redis restarts, and
 * rules in the lake (through its admin API) that it removes again when their window is over. Corruption
 * on write is a rule of its own, active for the whole run.
 */
export class FaultInjector {
  private readonly transient: TransientRule[] = [];
  private readonly baseStorage: Record<string, unknown>[];

  constructor(
    private readonly lake: LakeProcess,
    private readonly redis: PrivateRedis,
    corruptWriteRate: number,
  ) {
    this.baseStorage = [{ method: 'PUT', corruptWriteRate }];
  }

  /** The run-long rules (corruption on write): before the processes start. */
  install(): Promise<void> {
    return this.applyRules();
  }

  /** Injects one step; its record says what happened (a step that could not be injected is not an error). */
  async inject(step: FaultStep, fleet: SoakFleet, at: { started: number; progress: number }): Promise<InjectedFault> {
    const time = Date.now();
    const record: InjectedFault = {
      step,
      description: describeStep(step),
      time,
      elapsedMs: time - at.started,
      progress: at.progress,
      injected: true,
      outcome: '',
    };
    try {
      switch (step.kind) {
        case 'kill-upload-worker':
          Object.assign(record, await fleet.killUploadWorker());
          break;
        case 'kill-download-worker':
          Object.assign(record, await fleet.killDownloadWorker());
          break;
        case 'restart-redis': {
          const t = Date.now();
          await this.redis.restart();
          record.outcome = `down and back in ${Date.now() - t} ms`;
          break;
        }
        case 'storage-5xx':
        case 'catalog-5xx':
        case 'catalog-latency':
          await this.addTransient(step, record);
          record.outcome = 'active';
          break;
      }
    } catch (error) {
      record.injected = false;
      record.outcome = `failed: ${errorMessage(error)}`;
    }
    return record;
  }

  /** Removes the rules whose window is over, and the bursts that are spent. */
  async expire(now: number): Promise<void> {
    if (this.transient.length === 0) return;
    const { counters } = await this.syncRules();
    // A spent burst is dropped at once: the lake's first matching rule decides, so it would hide
    // the rules behind it (a latency window) for the rest of its window.
    const expired = this.transient.filter((t) => t.until <= now || t.rule.errorBurst === 0);
    if (expired.length === 0) return;
    for (const entry of expired) {
      entry.onExpire(counters);
      this.transient.splice(this.transient.indexOf(entry), 1);
    }
    await this.applyRules();
  }

  /** Ends every rule (so that the read-back after the run is not disturbed) and returns the lake's counters. */
  async finish(): Promise<FaultCounters> {
    if (this.transient.length > 0) {
      const { counters } = await this.lake.faults();
      for (const entry of this.transient.splice(0)) entry.onExpire(counters);
    }
    await this.lake.clearFaults();
    return (await this.lake.faults()).counters;
  }

  private async addTransient(step: Extract<FaultStep, { kind: 'storage-5xx' | 'catalog-5xx' | 'catalog-latency' }>, record: InjectedFault): Promise<void> {
    const side = step.kind === 'storage-5xx' ? 'storage' : 'catalog';
    const rule: Record<string, unknown> =
      step.kind === 'catalog-latency'
        ? { latencyMs: step.latencyMs }
        : { errorBurst: step.count, status: step.status, ...(step.kind === 'storage-5xx' ? definedProps({ method: step.method }) : {}) };
    const before = (await this.syncRules()).counters[side];
    this.transient.unshift({
      side,
      rule,
      until: Date.now() + step.windowMs,
      onExpire: (counters) => {
        const after = counters[side];
        record.outcome =
          step.kind === 'catalog-latency'
            ? `${after.delayed - before.delayed} requests delayed`
            : `${after.errors - before.errors} ${side} requests answered ${step.status}`;
        if (step.kind !== 'catalog-latency' && after.errors === before.errors) record.injected = false;
      },
    });
    await this.applyRules();
  }

  /**
   * Setting rules replaces every rule with fresh copies, so read back what bursts have already
   * consumed before changing the list. (A request the lake serves between this read and the new
   * list can make a burst fire once more than scheduled: a slightly stronger fault, still counted.)
   * Returns the lake's counters as read.
   */
  private async syncRules(): Promise<{ counters: FaultCounters }> {
    const state = await this.lake.faults();
    const bySide = { catalog: 0, storage: 0 };
    for (const entry of this.transient) {
      const live = state.rules[entry.side][bySide[entry.side]++];
      if (live !== undefined) entry.rule = { ...live };
    }
    return state;
  }

  private applyRules(): Promise<void> {
    const spec: FaultSpec = {
      catalog: this.transient.filter((t) => t.side === 'catalog').map((t) => t.rule),
      storage: [...this.transient.filter((t) => t.side === 'storage').map((t) => t.rule), ...this.baseStorage],
    };
    return this.lake.setFaults(spec);
  }
}
