import {
  downloadChunkEventSchema,
  downloadStatuses,
  uploadChunkEventSchema,
  uploadEventKinds,
  type DownloadChunkEvent,
  type UploadChunkEvent,
} from '../../src/common/log-records.js';
import { LogTail, isDownloadLog, isUploadLog } from './log-tail.js';

/**
 * What the run's logs say so far: every chunk event of the upload and download logs, read while the
 * processes write them. The soak's progress (for the fault schedule and the stall rule) and, at the
 * end, its verdict come from here.
 */
export class SoakEvents {
  readonly uploads: UploadChunkEvent[] = [];
  readonly downloads: DownloadChunkEvent[] = [];
  private readonly uploadedNames = new Set<string>();
  private verified = 0;
  private readonly tail: LogTail;

  constructor(runDir: string) {
    this.tail = new LogTail(runDir, (name) => isUploadLog(name) || isDownloadLog(name), (record, file) => this.take(record, file));
  }

  /** Reads what the logs gained since the last call. */
  poll(): Promise<void> {
    return this.tail.poll();
  }

  /** Distinct chunks logged uploaded. */
  get uploadedCount(): number {
    return this.uploadedNames.size;
  }

  get verifiedCount(): number {
    return this.verified;
  }

  /** Grows whenever a chunk is uploaded, verified or found corrupted: a run that stalls stops growing. */
  get progress(): number {
    return this.uploadedNames.size + this.downloads.length;
  }

  private take(record: Record<string, unknown>, file: string): void {
    if (isUploadLog(file) && uploadEventKinds.includes(record.event as never)) {
      const parsed = uploadChunkEventSchema.safeParse(record);
      if (parsed.success) {
        this.uploads.push(parsed.data);
        if (parsed.data.event === 'uploaded') this.uploadedNames.add(parsed.data.name);
      }
    } else if (isDownloadLog(file) && downloadStatuses.includes(record.event as never)) {
      const parsed = downloadChunkEventSchema.safeParse(record);
      if (parsed.success) {
        this.downloads.push(parsed.data);
        if (parsed.data.event === 'verified') this.verified++;
      }
    }
  }
}
