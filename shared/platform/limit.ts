/**
 * At most `max` calls in flight; the rest wait their turn in order. The worker bounds its own
 * Firestore transactions with it: when a whole batch lands on one instance at once, a short queue
 * in the process beats hundreds of transactions contending for the same batch document.
 */
export function createLimiter(max: number) {
  let active = 0;
  const waiting: Array<() => void> = [];
  const release = () => {
    active--;
    waiting.shift()?.();
  };
  return async function limit<T>(task: () => Promise<T>): Promise<T> {
    if (active >= max) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
    try {
      return await task();
    } finally {
      release();
    }
  };
}
