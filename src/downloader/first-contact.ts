import { ExitCode, isWavefierError } from '../common/errors.js';
import { RucioAccessDeniedError, type RucioClient } from '../rucio/index.js';

export interface FirstContact {
  /** Why `whoami` failed, when it did with something the poll loop may still overcome (a catalog not answering yet). */
  failure: unknown;
  /** The server's version from `GET /ping`; undefined when it did not answer that. */
  rucioVersion: string | undefined;
}

/**
 * The download's first questions to the catalog, asked together: `whoami`, so that credentials the
 * server rejects fail the run now, not after the workers started (a catalog that does not answer yet
 * is tried again by the poll loop); and the server's version (`GET /ping`, unauthenticated, once) for
 * the report's header, left out when the catalog does not answer it.
 */
export async function greetCatalog(rucio: Pick<RucioClient, 'whoami' | 'ping'>, options: { credentialsAccepted?: boolean } = {}): Promise<FirstContact> {
  const [failure, rucioVersion] = await Promise.all([
    // Already accepted (the catalog answered an authenticated request just before the run): not asked again.
    (options.credentialsAccepted === true ? Promise.resolve() : rucio.whoami()).then(
      () => undefined,
      (error: unknown) => error,
    ),
    rucio.ping().then(
      (answer) => answer.version,
      () => undefined,
    ),
  ]);
  if (failure !== undefined && isWavefierError(failure) && (failure.exitCode === ExitCode.usage || failure instanceof RucioAccessDeniedError)) {
    throw failure;
  }
  return { failure, rucioVersion };
}
