import { z } from 'zod';

/**
 * What the soak injects, and when. Faults fire by progress (fraction of the scheduled chunks that
 * the upload logs say are uploaded), not by wall time, so a short CI soak and the 4 h rehearsal go
 * through the same sequence whatever the machine's speed.
 */
const status = z.union([z.literal(500), z.literal(502), z.literal(503), z.literal(504)]);
const fraction = z.number().gt(0).lt(1);
const windowMs = z.number().int().min(1).max(600_000);

export const faultStepSchema = z.discriminatedUnion('kind', [
  /** SIGKILL of one upload-worker process (the oldest alive), then a replacement is started. */
  z.object({ at: fraction, kind: z.literal('kill-upload-worker') }).strict(),
  /** SIGKILL of one `wavefier download-worker` process (a child of `wavefier download`). */
  z.object({ at: fraction, kind: z.literal('kill-download-worker') }).strict(),
  /** redis-server stopped and started again on the same port and AOF file. */
  z.object({ at: fraction, kind: z.literal('restart-redis') }).strict(),
  /** The next `count` storage requests (optionally only `method`) answer `status`; rule removed after windowMs. */
  z.object({ at: fraction, kind: z.literal('storage-5xx'), count: z.number().int().min(1), status, method: z.enum(['PUT', 'GET']).optional(), windowMs }).strict(),
  /** The next `count` catalog requests answer `status`; rule removed after windowMs. */
  z.object({ at: fraction, kind: z.literal('catalog-5xx'), count: z.number().int().min(1), status, windowMs }).strict(),
  /** Every catalog request is delayed by latencyMs for windowMs. */
  z.object({ at: fraction, kind: z.literal('catalog-latency'), latencyMs: z.number().int().min(1).max(10_000), windowMs }).strict(),
]);
export type FaultStep = z.infer<typeof faultStepSchema>;
export type FaultKind = FaultStep['kind'];

export const faultKinds: readonly FaultKind[] = [
  'kill-upload-worker',
  'kill-download-worker',
  'restart-redis',
  'storage-5xx',
  'catalog-5xx',
  'catalog-latency',
];

export const scheduleSchema = z.array(faultStepSchema).min(1);

/**
 * Every kind at least twice, spread over the run, with one moment (85%) where an upload worker and a
 * download worker die together. Corruption on write is not a step: it is active for the whole run.
 * A burst that needs requests to land on (the GETs of downloads) is not left for the tail: steps are
 * injected one after the other, the 85% kills hold the next step for a second or two while their
 * replacements start, and by then a short soak's last downloads can all be done (a GET burst at 90%
 * then found no GET to answer and the soak failed its own check).
 */
export const defaultSchedule: readonly FaultStep[] = [
  { at: 0.05, kind: 'catalog-latency', latencyMs: 200, windowMs: 2000 },
  { at: 0.1, kind: 'kill-upload-worker' },
  { at: 0.15, kind: 'storage-5xx', count: 30, status: 503, windowMs: 3000 },
  { at: 0.2, kind: 'kill-download-worker' },
  { at: 0.3, kind: 'restart-redis' },
  { at: 0.4, kind: 'catalog-5xx', count: 30, status: 503, windowMs: 3000 },
  { at: 0.5, kind: 'kill-upload-worker' },
  { at: 0.55, kind: 'storage-5xx', count: 20, status: 502, method: 'PUT', windowMs: 3000 },
  { at: 0.6, kind: 'kill-download-worker' },
  { at: 0.65, kind: 'storage-5xx', count: 20, status: 504, method: 'GET', windowMs: 3000 },
  { at: 0.7, kind: 'restart-redis' },
  { at: 0.75, kind: 'catalog-5xx', count: 20, status: 502, windowMs: 3000 },
  { at: 0.85, kind: 'kill-upload-worker' },
  { at: 0.85, kind: 'kill-download-worker' },
  { at: 0.9, kind: 'catalog-latency', latencyMs: 500, windowMs: 2000 },
];

/** One line per step, for the printed plan and the injected-fault table. */
export function describeStep(step: FaultStep): string {
  switch (step.kind) {
    case 'kill-upload-worker':
      return 'SIGKILL an upload-worker process, start a replacement';
    case 'kill-download-worker':
      return 'SIGKILL a download worker process';
    case 'restart-redis':
      return 'restart redis-server (AOF)';
    case 'storage-5xx':
      return `storage: next ${step.count} ${step.method ?? 'requests'} answer ${step.status}`;
    case 'catalog-5xx':
      return `catalog: next ${step.count} requests answer ${step.status}`;
    case 'catalog-latency':
      return `catalog: +${step.latencyMs} ms on every request for ${step.windowMs} ms`;
  }
}
