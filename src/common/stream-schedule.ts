import { z } from 'zod';
import { InputError } from './errors.js';

/**
 * A producer's schedule, as one wavefier process tells another before the stream's first file exists
 * (rehearse relays its upload's to its download: `download --schedule-from-owner`): chunk 0, at GPS
 * `gps_start` and `duration_s` seconds long, is due at `t0` (epoch ms), chunk n at t0 + n × interval_ms.
 * One JSON line on the owner's pipe.
 */
export const streamScheduleSchema = z
  .object({
    t0: z.number().positive(),
    interval_ms: z.number().positive(),
    gps_start: z.number().int().nonnegative(),
    duration_s: z.number().int().positive(),
  })
  .strict();
export type StreamSchedule = z.infer<typeof streamScheduleSchema>;

export function streamScheduleLine(schedule: StreamSchedule): string {
  return `${JSON.stringify(schedule)}\n`;
}

/** The schedule a line tells; an InputError saying what is wrong with it otherwise. */
export function parseStreamSchedule(line: string): StreamSchedule {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new InputError(`the stream schedule ${JSON.stringify(line.slice(0, 200))} is not JSON: expected {"t0":…,"interval_ms":…,"gps_start":…,"duration_s":…}`);
  }
  const parsed = streamScheduleSchema.safeParse(value);
  if (!parsed.success) throw new InputError(`the stream schedule ${JSON.stringify(line.slice(0, 200))} is invalid: ${z.prettifyError(parsed.error).replace(/\n/g, '; ')}`);
  return parsed.data;
}
