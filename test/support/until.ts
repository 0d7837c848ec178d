/** Polls `probe` every 100 ms until it returns a value; fails naming `what` after `timeoutMs`. */
export async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Waits (bounded) until at least `count` of the collected log `lines` match, and returns them. A
 * function's log line travels over its stdout pipe and its answer over the socket: nothing orders
 * the two, so a test never reads a log line right after an answer.
 */
export async function untilLogged<T>(
  what: string,
  lines: readonly T[],
  match: (line: T) => boolean,
  count = 1,
  timeoutMs = 10_000,
): Promise<T[]> {
  return until(
    `the log line ${what}`,
    async () => {
      const found = lines.filter(match);
      return found.length >= count ? found : undefined;
    },
    timeoutMs,
  );
}
