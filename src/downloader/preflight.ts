import { UsageError } from '../common/errors.js';
import { checkWritableDir } from '../common/writable-dir.js';

export interface DownloadRequestChecks {
  keep: 'all' | 'none';
  dest?: string;
  pollIntervalMs: number;
  logDir: string;
}

/**
 * What a download can find wrong with its request before it starts anything (a private Redis, worker
 * processes, a log): the flags that go together, and the places it will write, which must exist or be
 * creatable and take files (a read-only, full or forbidden --dir or --log-dir is named with its
 * reason, exit 2). Nothing is created. `wavefier rehearse` runs it on the download it will start.
 */
export async function checkDownloadRequest(request: DownloadRequestChecks): Promise<void> {
  if (request.keep === 'all' && request.dest === undefined) throw new UsageError('--dir DIR is required unless --keep none');
  if (!(request.pollIntervalMs > 0)) throw new UsageError(`--poll-interval must be positive, got ${request.pollIntervalMs} ms`);
  if (request.keep === 'all' && request.dest !== undefined) await checkWritableDir(request.dest, '--dir');
  await checkWritableDir(request.logDir, '--log-dir');
}
