/**
 * Bounds how long the webhook waits on a dependency. A publish or upload that has not completed by
 * the deadline is answered 503 (the sender retries) instead of holding the request until the
 * function times out; the client's own RPC deadline (shared/adapters/pubsub.ts) cancels the call.
 */
export class DeadlineExceededError extends Error {
  constructor(
    readonly what: string,
    readonly ms: number,
  ) {
    super(`${what} did not complete within ${ms} ms`);
    this.name = 'DeadlineExceededError';
  }
}

export function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineExceededError(what, ms)), ms);
  });
  // A late rejection of `work` after the deadline has nobody waiting on it: keep it from crashing the process.
  work.catch(() => undefined);
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}
