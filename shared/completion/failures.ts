/**
 * Whether a failure while applying a message is worth retrying. Pure.
 *
 * Pub/Sub redelivers whatever the worker throws, so a failure that the same message will meet again
 * (Firestore refusing the content, a path the file system cannot hold, a value that cannot be
 * serialised) must not be thrown: it is dead-lettered with its reason. Only failures of the moment —
 * unavailable, deadline, aborted, throttled, 5xx, a dropped connection — are retried.
 */

export type FailureVerdict =
  | { kind: 'transient'; reason: string }
  | { kind: 'permanent'; code: PermanentFailureCode; reason: string }
  | { kind: 'unknown'; reason: string };

export type PermanentFailureCode = 'rejected_by_store' | 'too_large' | 'unserialisable' | 'invalid_path';

/** gRPC status codes (Firestore, Pub/Sub). */
const GRPC = {
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

const TRANSIENT_ERRNO = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'EMFILE',
  'ENFILE',
  'EBUSY',
  'ENOSPC',
]);
const PATH_ERRNO = new Set(['ENAMETOOLONG', 'EINVAL', 'EISDIR', 'ENOTDIR', 'EILSEQ']);
/** Firestore says a transaction lost a race or waited too long: that is contention, not content. */
const CONTENTION = /transaction|contention|lock|too much contention|aborted/i;
const TOO_LARGE = /exceeds the maximum|exceeds maximum|too large|maximum size|larger than/i;

function describe(err: unknown): string {
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return text.length > 500 ? `${text.slice(0, 500)}…` : text;
}

export function classifyFailure(err: unknown): FailureVerdict {
  const reason = describe(err);
  if (err instanceof RangeError) return { kind: 'permanent', code: 'unserialisable', reason };
  const e = (err ?? {}) as { code?: unknown; status?: unknown; response?: { status?: unknown } };
  const message = err instanceof Error ? err.message : String(err);

  if (typeof e.code === 'string') {
    if (PATH_ERRNO.has(e.code)) return { kind: 'permanent', code: 'invalid_path', reason };
    if (TRANSIENT_ERRNO.has(e.code)) return { kind: 'transient', reason };
  }

  // HTTP (Cloud Storage): the status is on `code` or on the response.
  const http =
    typeof e.response?.status === 'number'
      ? e.response.status
      : typeof e.code === 'number' && e.code >= 100
        ? e.code
        : undefined;
  if (http !== undefined) {
    if (http === 408 || http === 429 || http >= 500) return { kind: 'transient', reason };
    if (http === 400 || http === 413)
      return { kind: 'permanent', code: http === 413 ? 'too_large' : 'rejected_by_store', reason };
    return { kind: 'unknown', reason };
  }

  if (typeof e.code === 'number') {
    switch (e.code) {
      case GRPC.UNAVAILABLE:
      case GRPC.DEADLINE_EXCEEDED:
      case GRPC.ABORTED:
      case GRPC.CANCELLED:
      case GRPC.INTERNAL:
      case GRPC.UNKNOWN:
        return { kind: 'transient', reason };
      case GRPC.RESOURCE_EXHAUSTED:
        return TOO_LARGE.test(message)
          ? { kind: 'permanent', code: 'too_large', reason }
          : { kind: 'transient', reason };
      case GRPC.INVALID_ARGUMENT:
        return TOO_LARGE.test(message)
          ? { kind: 'permanent', code: 'too_large', reason }
          : { kind: 'permanent', code: 'rejected_by_store', reason };
      case GRPC.FAILED_PRECONDITION:
        return CONTENTION.test(message)
          ? { kind: 'transient', reason }
          : { kind: 'permanent', code: 'rejected_by_store', reason };
      default:
        return { kind: 'unknown', reason };
    }
  }
  if (err instanceof TypeError && /circular|BigInt|serializ/i.test(message))
    return { kind: 'permanent', code: 'unserialisable', reason };
  return { kind: 'unknown', reason };
}

/**
 * Counts failures of unknown cause per message, so that a message whose failure nothing explains is
 * dead-lettered after `budget` attempts on this instance instead of looping. Known-transient
 * failures are not counted: an outage is waited out (Pub/Sub's own dead-letter policy bounds it).
 */
export function createRetryBudget(budget: number, maxTracked = 10_000) {
  const attempts = new Map<string, number>();
  return {
    /** Records one failure; true when the budget is spent. */
    spend(messageId: string): boolean {
      const n = (attempts.get(messageId) ?? 0) + 1;
      attempts.delete(messageId);
      attempts.set(messageId, n);
      if (attempts.size > maxTracked) attempts.delete(attempts.keys().next().value!);
      return n >= budget;
    },
    forget(messageId: string): void {
      attempts.delete(messageId);
    },
  };
}
