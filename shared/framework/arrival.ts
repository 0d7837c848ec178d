/**
 * How long a body may take to arrive, read or drained: no byte for `idleMs` is a stall, so is
 * averaging under `minBytesPerSecond` once the first RATE_GRACE_MS are over, and so is not being
 * done after `totalMs`. A connection that declares a large body and sends nothing, or drips, is
 * therefore let go within seconds, whatever it declared (docs/security.md). `arrivalCheck` is the
 * rule, pure; `watchArrival` applies it to a stream with one timer, re-armed only when it fires.
 */

/** Time a body is given before its average rate is judged (connection set-up, a slow first write). */
export const RATE_GRACE_MS = 5000;

export interface ArrivalLimits {
  /** A body with no byte for this long has stalled. */
  idleMs: number;
  /** After the grace, a body averaging fewer bytes a second has stalled (0: no floor). */
  minBytesPerSecond: number;
  /** A body not done after this long has stalled. */
  totalMs: number;
}

export interface Arrival {
  startedAt: number;
  lastByteAt: number;
  bytes: number;
}

export type Stall = { kind: 'idle' | 'slow' | 'late'; message: string };

/** Whether a body still arriving at `now` has stalled; if not, when it could next stall. */
export function arrivalCheck(
  a: Arrival,
  now: number,
  limits: ArrivalLimits,
): { stall: Stall } | { nextCheckAt: number } {
  const elapsed = now - a.startedAt;
  if (now - a.lastByteAt >= limits.idleMs)
    return { stall: { kind: 'idle', message: `no byte of the body for ${limits.idleMs / 1000} s` } };
  if (elapsed >= limits.totalMs)
    return { stall: { kind: 'late', message: `body not received within ${limits.totalMs / 1000} s` } };
  // The rate falls under the floor at startedAt + bytes / floor, and is judged after the grace.
  const rateDueAt =
    limits.minBytesPerSecond > 0
      ? a.startedAt + Math.max(RATE_GRACE_MS, (a.bytes * 1000) / limits.minBytesPerSecond)
      : Infinity;
  if (now > rateDueAt) {
    const rate = Math.round((a.bytes * 1000) / Math.max(1, elapsed));
    return {
      stall: {
        kind: 'slow',
        message: `body arriving at ${rate} bytes/s, under the ${limits.minBytesPerSecond} bytes/s floor`,
      },
    };
  }
  return { nextCheckAt: Math.min(a.lastByteAt + limits.idleMs, a.startedAt + limits.totalMs, rateDueAt) };
}

/** Watches a body arriving: call `arrived` for each chunk; `onStall` runs once if it stalls; `stop` when done. */
export function watchArrival(limits: ArrivalLimits, onStall: (stall: Stall) => void, now: () => number = Date.now) {
  const startedAt = now();
  const arrival: Arrival = { startedAt, lastByteAt: startedAt, bytes: 0 };
  let timer: NodeJS.Timeout | undefined;
  const check = () => {
    const verdict = arrivalCheck(arrival, now(), limits);
    if ('stall' in verdict) {
      timer = undefined;
      onStall(verdict.stall);
    } else timer = setTimeout(check, Math.max(1, verdict.nextCheckAt - now()));
  };
  // Never synchronously: the caller has not finished setting up when this returns.
  const first = arrivalCheck(arrival, startedAt, limits);
  timer = setTimeout(check, 'stall' in first ? 0 : Math.max(1, first.nextCheckAt - startedAt));
  return {
    arrived(bytes: number): void {
      arrival.bytes += bytes;
      arrival.lastByteAt = now();
    },
    stop(): void {
      clearTimeout(timer);
      timer = undefined;
    },
  };
}
