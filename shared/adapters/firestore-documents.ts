/**
 * Firestore documents as the rest of the code sees them: the client (emulator-aware through the
 * environment), Timestamps as Dates, every document read back parsed by its schema, and how a write
 * that lost to a concurrent writer is recognised.
 */
import { Firestore, GrpcStatus, Timestamp } from '@google-cloud/firestore';
import type { z } from 'zod';

export function createFirestore(projectId: string | undefined, databaseId: string): Firestore {
  return new Firestore({ ...(projectId ? { projectId } : {}), databaseId, ignoreUndefinedProperties: true });
}

function toPlain(value: unknown): unknown {
  if (value instanceof Timestamp) return value.toDate();
  if (Array.isArray(value)) return value.map(toPlain);
  if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toPlain(v)]));
  }
  return value;
}

/** Firestore Timestamps become Dates, so that pure logic sees plain values. */
export function plain<T>(data: FirebaseFirestore.DocumentData | undefined): T | undefined {
  return data ? (toPlain(data) as T) : undefined;
}

/** A document read back, as its schema says; a document of another shape is an error, not a cast. */
export function parsed<S extends z.ZodType>(
  schema: S,
  path: string,
  data: FirebaseFirestore.DocumentData | undefined,
): z.output<S> | undefined {
  if (!data) return undefined;
  const result = schema.safeParse(toPlain(data));
  if (!result.success)
    throw new Error(
      `${path} does not have the shape this pipeline writes: ${result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  return result.data;
}

/** Attempts per job update when another writer changed the job between read and commit. */
export const JOB_WRITE_ATTEMPTS = 10;

/** A precondition lost to a concurrent writer (update-time mismatch, or the document appeared). */
export function isConflict(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === GrpcStatus.FAILED_PRECONDITION || code === GrpcStatus.ALREADY_EXISTS || code === GrpcStatus.ABORTED;
}

/** Too many concurrent writers on one job: transient, Pub/Sub redelivers. */
export class ContentionError extends Error {
  readonly code = GrpcStatus.ABORTED;
  constructor(message: string) {
    super(message);
    this.name = 'ContentionError';
  }
}
