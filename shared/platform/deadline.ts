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

/** `work`, or a DeadlineExceededError once `ms` pass; a late settling of `work` is ignored. */
export function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new DeadlineExceededError(what, ms)), ms);
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: Error) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
