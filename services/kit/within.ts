/**
 * Settles like `work`, unless `ms` passes first: then rejects with `Error(message)`. The work is not cancelled
 * (a Redis command cannot be); its late failure is swallowed, its late success ignored. For callers that must
 * not wait on one unreachable dependency longer than they can afford (a batch's budget, a control step's read).
 */
export function within<T>(work: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  work.catch(() => {});
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}
