import { z } from 'zod';
import { InputError } from './errors.js';

/**
 * A producer's schedule, as one wavefier process tells another before the stream's first file exists
 * (rehearse relays its upload's to its download: `download --schedule-from-owner`): chunk 0, at GPS
 * `gps_start` and `duration_s` seconds long, is due at `t0` (epoch ms), chunk n at t0 + n × interval_ms;
 * `chunk_shape`, when the producer knows it, is what its chunks have in common. One JSON line on the
 * owner's pipe.
 */
/**
 * The largest chunk whose shape is taken from an announcement (samples): the consumer builds a
 * template that size as soon as it is told; a larger one is learnt from the first chunk instead.
 * 2^22 float64 samples (32 MiB) is 256 s at 16 kHz, far beyond any rehearsal's chunks.
 */
export const maxAnnouncedChunkSamples = 2 ** 22;

const shapeText = z.string().min(1).max(256);

/**
 * What every chunk of the stream has in common (strain's ChunkShape, snake_case on the wire): the
 * consumer prepares its decoder for it before chunk 0 arrives. Only a hint: a chunk that does not
 * match it is read the usual way.
 */
export const chunkShapeAnnouncementSchema = z
  .object({
    run_id: shapeText,
    duration_s: z.number().int().positive(),
    sample_rate_hz: z.number().int().positive(),
    detector: shapeText,
    observatory: shapeText,
    source_kind: z.enum(['file', 'synthetic']),
    source_file: z.string().min(1).max(1024).optional(),
    has_dq: z.boolean(),
  })
  .strict()
  .refine((shape) => shape.duration_s * shape.sample_rate_hz <= maxAnnouncedChunkSamples, {
    error: `a chunk of more than ${maxAnnouncedChunkSamples} samples`,
    path: ['sample_rate_hz'],
  });
export type ChunkShapeAnnouncement = z.infer<typeof chunkShapeAnnouncementSchema>;

export const streamScheduleSchema = z
  .object({
    t0: z.number().positive(),
    interval_ms: z.number().positive(),
    gps_start: z.number().int().nonnegative(),
    duration_s: z.number().int().positive(),
    chunk_shape: chunkShapeAnnouncementSchema.optional(),
  })
  .strict();
export type StreamSchedule = z.infer<typeof streamScheduleSchema>;

export function streamScheduleLine(schedule: StreamSchedule): string {
  return `${JSON.stringify(schedule)}\n`;
}

/**
 * The line a download sends its worker processes when it is told the shape of the stream's chunks
 * (they decode the chunks): the shape alone, as JSON.
 */
export function chunkShapeLine(shape: ChunkShapeAnnouncement): string {
  return `${JSON.stringify(shape)}\n`;
}

/** The shape a chunkShapeLine tells; an InputError saying what is wrong with it otherwise. */
export function parseChunkShapeLine(line: string): ChunkShapeAnnouncement {
  return parseLine(line, 'chunk shape', chunkShapeAnnouncementSchema);
}

/** The schedule a line tells; an InputError saying what is wrong with it otherwise. */
export function parseStreamSchedule(line: string): StreamSchedule {
  return parseLine(line, 'stream schedule', streamScheduleSchema, ': expected {"t0":…,"interval_ms":…,"gps_start":…,"duration_s":…}');
}

/** One JSON line of `schema`, or an InputError quoting the line and naming what it should have been (`what`, `notJsonHint`). */
function parseLine<T>(line: string, what: string, schema: z.ZodType<T>, notJsonHint = ''): T {
  const quoted = JSON.stringify(line.slice(0, 200));
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new InputError(`the ${what} ${quoted} is not JSON${notJsonHint}`);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new InputError(`the ${what} ${quoted} is invalid: ${z.prettifyError(parsed.error).replace(/\n/g, '; ')}`);
  return parsed.data;
}
