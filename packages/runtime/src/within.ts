/**
 * Waiting for something at most so long — shutdowns, drains — without
 * leaving a timer behind.
 */

/** Resolves true once `work` settles (fulfilled or rejected), or false after `ms`, whichever comes first. */
export async function settledWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const settled = work.then(
    () => true,
    () => true,
  );
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), Math.max(0, ms))));
  try {
    return await Promise.race([settled, late]);
  } finally {
    clearTimeout(timer);
  }
}
