/**
 * The operator page's reads (OperatorStore): batches, a batch's jobs and dead letters, each paged
 * and limited, each projected to ids, states, scores and reasons — never a payload, a file or a
 * secret — and the replay's marks. Pages are cursors (`after`: the last item's sort value and id).
 */
import { FieldPath, Timestamp, type Firestore, type Query } from '@google-cloud/firestore';
import type { Collections } from '../config/config';
import type { BatchJobListing, BatchListing, DeadLetterRecord, OperatorStore, Page } from '../ports';

type IndexField = { field: string; order: 'ASCENDING' | 'DESCENDING' };
const newestFirst: IndexField[] = [
  { field: 'updated_at', order: 'DESCENDING' },
  { field: '__name__', order: 'DESCENDING' },
];

/**
 * The composite indexes the listings run on (terraform/firestore.tf, checked against these in the
 * Terraform tests; the emulator needs none). Dead letters, counts and the newest-first reads of a
 * single field run on Firestore's automatic single-field indexes.
 */
export const OPERATOR_INDEXES: Readonly<Record<string, { collection: string; fields: IndexField[] }>> = {
  batches_by_status: { collection: 'batches', fields: [{ field: 'status', order: 'ASCENDING' }, ...newestFirst] },
  jobs_by_batch: { collection: 'jobs', fields: [{ field: 'batch_id', order: 'ASCENDING' }, ...newestFirst] },
  jobs_by_batch_status: {
    collection: 'jobs',
    fields: [{ field: 'batch_id', order: 'ASCENDING' }, { field: 'status', order: 'ASCENDING' }, ...newestFirst],
  },
};

/** A page token: the last item's sort value (a time, or null) and its id. */
export function pageAfter(value: Date | null, id: string): string {
  return Buffer.from(JSON.stringify([value ? value.toISOString() : null, id])).toString('base64url');
}

/** A token back to its sort value and id; undefined for one this adapter did not make. */
export function readAfter(token: string | undefined): { value: Date | null; id: string } | undefined {
  if (!token) return undefined;
  try {
    const [value, id] = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as [unknown, unknown];
    if (typeof id !== 'string' || (value !== null && typeof value !== 'string')) return undefined;
    const date = value === null ? null : new Date(value);
    return date && Number.isNaN(date.getTime()) ? undefined : { value: date, id };
  } catch {
    return undefined;
  }
}

const dateOf = (v: unknown): Date | null => (v instanceof Timestamp ? v.toDate() : v instanceof Date ? v : null);
const numberOr = <T>(v: unknown, fallback: T): number | T =>
  typeof v === 'number' && Number.isFinite(v) ? v : fallback;
const stringOr = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/** Runs `query` ordered by `field` (newest first) and the id, from `after`; one page of `limit`. */
async function page<T>(
  query: Query,
  field: string,
  limit: number,
  after: string | undefined,
  map: (id: string, data: FirebaseFirestore.DocumentData) => T,
): Promise<Page<T>> {
  let ordered = query.orderBy(field, 'desc').orderBy(FieldPath.documentId(), 'desc');
  const cursor = readAfter(after);
  if (cursor) ordered = ordered.startAfter(cursor.value ? Timestamp.fromDate(cursor.value) : null, cursor.id);
  const snap = await ordered.limit(limit).get();
  const items = snap.docs.map((d) => map(d.id, d.data()));
  const last = snap.docs.at(-1);
  return {
    items,
    ...(snap.size === limit && last ? { next: pageAfter(dateOf(last.get(field)), last.id) } : {}),
  };
}

function batchListing(id: string, d: FirebaseFirestore.DocumentData): BatchListing {
  return {
    batch_id: id,
    status: stringOr(d.status) ?? 'running',
    total_jobs: numberOr(d.total_jobs, null),
    completed_jobs: numberOr(d.completed_jobs, 0),
    failed_jobs: numberOr(d.failed_jobs, 0),
    registered_at: dateOf(d.registered_at),
    counts_updated_at: dateOf(d.counts_updated_at),
    completed_at: dateOf(d.completed_at),
    updated_at: dateOf(d.updated_at),
  };
}

function jobListing(id: string, d: FirebaseFirestore.DocumentData): BatchJobListing {
  const result = (d.result ?? {}) as Record<string, unknown>;
  const error = (d.error ?? {}) as Record<string, unknown>;
  return {
    job_id: id,
    status: stringOr(d.status) ?? 'unknown',
    modal_call_id: stringOr(d.modal_call_id),
    affinity: numberOr(result.affinity, null),
    confidence: numberOr(result.confidence, null),
    error: stringOr(error.message)?.slice(0, 500) ?? null,
    updated_at: dateOf(d.updated_at),
  };
}

const DEAD_LETTER_SOURCE = 'CloudPubSubDeadLetterSourceDeliveryCount';

function deadLetterRecord(id: string, d: FirebaseFirestore.DocumentData): DeadLetterRecord {
  const attributes = (d.attributes ?? {}) as Record<string, string>;
  const outcome = d.replay_outcome as { kind?: unknown; code?: unknown; at?: unknown } | undefined;
  return {
    id,
    code: stringOr(d.code) ?? 'unknown',
    reason: stringOr(d.reason) ?? '',
    delivery_id: stringOr(attributes.delivery_id),
    job_id: stringOr(attributes.job_id),
    call_id: stringOr(attributes.call_id),
    attempts: attributes[DEAD_LETTER_SOURCE] ? Number(attributes[DEAD_LETTER_SOURCE]) : null,
    data_bytes: numberOr(d.data_bytes, 0),
    replayable: typeof d.data_base64 === 'string' || typeof attributes.claim_uri === 'string',
    recorded_at: dateOf(d.recorded_at),
    replayed: d.replayed === true,
    replayed_at: dateOf(d.replayed_at),
    replay_message_id: stringOr(d.replay_message_id),
    replay_outcome: outcome
      ? {
          kind: String(outcome.kind),
          ...(typeof outcome.code === 'string' ? { code: outcome.code } : {}),
          at: dateOf(outcome.at),
        }
      : null,
  };
}

export function createFirestoreOperatorStore(db: Firestore, c: Collections): OperatorStore {
  const batches = db.collection(c.batches);
  const jobs = db.collection(c.jobs);
  const deadLetters = db.collection(c.deadLetters);
  return {
    listBatches({ status, limit, after }) {
      const query = status ? batches.where('status', '==', status) : batches;
      return page(query, 'updated_at', limit, after, batchListing);
    },

    async listBatchJobs(batchId, { status, limit, after }) {
      let query = jobs.where('batch_id', '==', batchId);
      if (status) query = query.where('status', '==', status);
      return page(query, 'updated_at', limit, after, jobListing);
    },

    listDeadLetters({ limit, after }) {
      return page(deadLetters, 'recorded_at', limit, after, deadLetterRecord);
    },

    async getDeadLetter(id) {
      const snap = await deadLetters.doc(id).get();
      if (!snap.exists) return undefined;
      const d = snap.data()!;
      return {
        ...deadLetterRecord(id, d),
        attributes: (d.attributes ?? {}) as Record<string, string>,
        ...(typeof d.data_base64 === 'string' ? { data: Buffer.from(d.data_base64, 'base64') } : {}),
      };
    },

    async markReplayed(id, replay) {
      await deadLetters.doc(id).update({
        replayed: true,
        replayed_at: replay.at,
        replay_message_id: replay.messageId,
        replayed_by: replay.by,
        replay_outcome: null,
      });
    },

    async countDeadLetters({ replayed }) {
      return (await deadLetters.where('replayed', '==', replayed).count().get()).data().count;
    },

    async countExecutions(status) {
      return (await db.collection(c.executions).where('status', '==', status).count().get()).data().count;
    },

    async recentCompletions(since, limit) {
      const snap = await jobs
        .where('completed_at', '>=', since)
        .orderBy('completed_at', 'desc')
        .limit(limit)
        .select('status', 'completion_source', 'processing_latency_ms', 'completed_at')
        .get();
      return snap.docs.map((d) => ({
        status: String(d.get('status')),
        source: String(d.get('completion_source') ?? 'unknown'),
        latencyMs: numberOr(d.get('processing_latency_ms'), null),
        at: dateOf(d.get('completed_at')) ?? undefined,
      }));
    },

    async lastJobUpdate(batchId) {
      const snap = await jobs
        .where('batch_id', '==', batchId)
        .orderBy('updated_at', 'desc')
        .limit(1)
        .select('updated_at')
        .get();
      return dateOf(snap.docs[0]?.get('updated_at'));
    },

    async lastActivity() {
      const [stats, job, pass] = await Promise.all([
        db.collection(c.stats).orderBy('minute', 'desc').limit(1).get(),
        jobs.orderBy('updated_at', 'desc').limit(1).select('updated_at').get(),
        db.collection(c.heartbeats).doc('reconciler').get(),
      ]);
      return {
        webhook: dateOf(stats.docs[0]?.get('minute')),
        worker: dateOf(job.docs[0]?.get('updated_at')),
        reconciler: dateOf(pass.get('finished_at')),
      };
    },
  };
}
