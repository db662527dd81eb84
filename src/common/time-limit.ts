/**
 * `work`'s outcome, or `whenLate()`'s once `ms` have passed (a value to go on with, or a throw), whichever
 * comes first. The work itself is not cancelled: callers use it where waiting longer is the harm.
 */
export async function withinTime<T>(work: PromiseLike<T>, ms: number, whenLate: () => T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<T>((resolve, reject) => {
    timer = setTimeout(() => {
      try {
        resolve(whenLate());
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    }, ms);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}
