import { basename } from 'node:path';
import type { RunEvent } from '../common/log-records.js';
import type { LogSide, SideInfo } from './report-types.js';

/**
 * What each side said about itself: the settings of its run_started lines, when it started, was
 * ready (the `ready` event: the downloader's first poll answered and workers connected; the uploader's
 * set-up and warm-up done) and
 * finished, and on which hosts its writers ran. Only the header of the report uses it: it decides
 * nothing about the verdict.
 */
export class RunSettingsCollector {
  private readonly sides: Record<LogSide, SideInfo> = { upload: emptySide(), download: emptySide() };

  /**
   * `run`: the upload run reported (undefined: every run); `dataset`: the run's dataset once known
   * (the upload logs are read first), so that another downloader's lines are left out.
   */
  constructor(
    private readonly run: string | undefined,
    private readonly dataset: () => string | undefined,
  ) {}

  runEvent(event: RunEvent, time: number | undefined, hostname: string | undefined): void {
    if (event.side === 'upload' && this.run !== undefined && event.run !== this.run) return;
    const dataset = this.dataset();
    if (event.side === 'download' && dataset !== undefined && event.dataset !== undefined && event.dataset !== dataset) return;
    const side = this.sides[event.side];
    if (hostname !== undefined && !side.hosts.includes(hostname)) side.hosts.push(hostname);
    switch (event.event) {
      case 'run_started':
        side.writers++;
        if (time !== undefined) side.startedAt = Math.min(side.startedAt ?? time, time);
        // The first writer's settings; later writers (a resumed run, another host) add what it lacked.
        for (const [key, value] of Object.entries(event.settings ?? {})) {
          if (value !== undefined && value !== null && !(key in side.settings)) side.settings[key] = value;
        }
        break;
      case 'ready':
        if (time !== undefined && (side.readyAt === undefined || time < side.readyAt)) {
          side.readyAt = time;
          side.startupMs = settingNumber(event.settings ?? {}, 'startup_ms');
          side.waitedMs = settingNumber(event.settings ?? {}, 'waited_ms');
        }
        break;
      case 'run_finished':
        if (time !== undefined) side.finishedAt = Math.max(side.finishedAt ?? time, time);
        break;
    }
  }

  /** Adds the hosts that wrote chunk lines (an upload-worker on another host writes no run event). */
  addHosts(side: LogSide, hosts: readonly string[]): void {
    for (const host of hosts) if (!this.sides[side].hosts.includes(host)) this.sides[side].hosts.push(host);
  }

  result(): Record<LogSide, SideInfo> {
    return this.sides;
  }
}

function emptySide(): SideInfo {
  return { hosts: [], writers: 0, startedAt: undefined, readyAt: undefined, startupMs: undefined, waitedMs: undefined, finishedAt: undefined, settings: {} };
}

/** A setting as text, or undefined when absent or not a plain value. */
export function settingText(settings: Record<string, unknown>, key: string): string | undefined {
  const value = settings[key];
  if (typeof value === 'string') return value === '' ? undefined : value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

export function settingNumber(settings: Record<string, unknown>, key: string): number | undefined {
  const value = settings[key];
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/**
 * The replayed source in a few words: its name (a file's base name, or "synthetic"), from the replay
 * description when the uploader wrote one (`source_name`), else from the source spec.
 */
export function sourceName(settings: Record<string, unknown>): string | undefined {
  const named = settingText(settings, 'source_name');
  if (named !== undefined) return named;
  const source = settings.source;
  if (typeof source === 'string') return source === 'synthetic' ? source : basename(source);
  if (typeof source === 'object' && source !== null) {
    const spec = source as Record<string, unknown>;
    if (spec.kind === 'synthetic') return 'synthetic';
    if (typeof spec.path === 'string') return basename(spec.path);
  }
  return undefined;
}

/** The source's sample rate in Hz (the rate sent, after any resampling), when the logs say it. */
export function sampleRateHz(settings: Record<string, unknown>): number | undefined {
  const rate = settingNumber(settings, 'sample_rate_hz');
  if (rate !== undefined) return rate;
  const source = settings.source;
  if (typeof source === 'object' && source !== null) {
    const value = (source as Record<string, unknown>).sampleRate;
    if (typeof value === 'number' && Number.isFinite(value)) return value;
  }
  return undefined;
}
