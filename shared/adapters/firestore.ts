/**
 * Firestore adapters. They read, run the pure decisions of shared/ (completion.ts, store-rules.ts)
 * inside their transactions, and write what those say; documents read back are parsed with the
 * schemas of shared/contract/schemas.ts, never cast. The job update runs in a transaction that reads only the
 * job document; batch counters are blind `increment`s, which do not contend when a whole batch
 * finishes at once.
 */
import {
  AggregateField,
  FieldPath,
  FieldValue,
  Firestore,
  GrpcStatus,
  Timestamp,
  type Transaction,
  type WriteBatch,
} from '@google-cloud/firestore';
import type { z } from 'zod';
import { isBatchDone, summaryIsCurrent } from '../batch/batch';
import { createLimiter } from '../platform/limit';
import type { Collections } from '../config/config';
import type { JobPlan } from '../completion/completion';
import type { JobStore } from '../ports';
import { counterShard, rollupNeeded, shardIncrements, sumTallies, type CounterShard } from '../batch/batch-counters';
import { batchDocSchema, jobDocSchema, type BatchDoc, type JobDoc } from '../contract/schemas';
import {
  decideBatchCompletion,
  decideFinalizationClaim,
  executionUpdateFor,
  isTerminal,
} from '../completion/store-rules';

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

/**
 * Writes what a JobPlan says, in one atomic batch, only if the job document is still as it was read
 * (`readAt`: its update time, or none when it did not exist): optimistic concurrency, two RPCs per
 * completion (read, commit) where a transaction needs three and holds locks.
 */
function writePlan(
  db: Firestore,
  c: Collections,
  shards: number,
  batch: WriteBatch,
  jobId: string,
  plan: JobPlan,
  readAt: Timestamp | undefined,
): void {
  const ref = db.collection(c.jobs).doc(jobId);
  const writeJob = (fields: Record<string, unknown>) =>
    readAt ? batch.update(ref, fields, { lastUpdateTime: readAt }) : batch.create(ref, fields);
  if (plan.kind === 'late') {
    writeJob({ late_events: FieldValue.arrayUnion(plan.lateEvent), updated_at: plan.lateEvent.recorded_at });
    return;
  }
  if (plan.kind !== 'apply') return;
  writeJob(plan.update);
  const execution = executionUpdateFor(plan);
  if (execution)
    batch.set(
      db.collection(c.executions).doc(execution.callId),
      { job_id: jobId, ...execution.fields },
      { merge: true },
    );
  if (plan.batch) {
    // One of the batch's counter shards, never the batch document itself (shared/batch/batch-counters.ts).
    batch.set(
      counters(db, c, plan.batch.batchId).doc(String(counterShard(jobId, shards))),
      incrementsOf(shardIncrements(plan.batch)),
      { merge: true },
    );
  }
}

function counters(db: Firestore, c: Collections, batchId: string) {
  return db.collection(c.batches).doc(batchId).collection('counters');
}

/** Dotted field paths with numbers → a nested object of increments, for a merging set. */
function incrementsOf(fields: Record<string, number>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [path, n] of Object.entries(fields)) {
    const keys = path.split('.');
    let node = out;
    for (const key of keys.slice(0, -1)) node = (node[key] ??= {}) as Record<string, unknown>;
    node[keys[keys.length - 1]!] = FieldValue.increment(n);
  }
  return out;
}

/**
 * A batch's counter shards: their number and the sums of the two buckets, in `tx` when given. Each
 * sum is an aggregation query of its own: one over several fields counts only the documents that
 * hold all of them (the emulator showed it: a shard without `failed` dropped out of the `completed`
 * sum too), and a shard holds only the buckets its jobs moved.
 */
async function shardCounts(db: Firestore, c: Collections, batchId: string, tx?: Transaction) {
  const shards = counters(db, c, batchId);
  const completedSum = shards.aggregate({ shards: AggregateField.count(), completed: AggregateField.sum('completed') });
  const failedSum = shards.aggregate({ failed: AggregateField.sum('failed') });
  const [completed, failed] = tx
    ? await Promise.all([tx.get(completedSum), tx.get(failedSum)])
    : await Promise.all([completedSum.get(), failedSum.get()]);
  return {
    shards: completed.data().shards,
    completed_jobs: completed.data().completed ?? 0,
    failed_jobs: failed.data().failed ?? 0,
  };
}

/**
 * A batch: its document, with the shards' sums as its counts. Three reads whatever the number of
 * shards: the document and two aggregation queries, in `tx` when given (one snapshot, locked), else
 * side by side without a transaction: each read is strongly consistent, the counts only grow towards
 * done (a job is counted once), and completing a batch reads them again inside its transaction.
 * A read-only transaction measured no faster on the emulator and costs more round trips.
 */
async function readBatch(
  db: Firestore,
  c: Collections,
  batchId: string,
  tx?: Transaction,
): Promise<BatchDoc | undefined> {
  const ref = db.collection(c.batches).doc(batchId);
  const [doc, { shards, ...counts }] = await Promise.all([
    tx ? tx.get(ref) : ref.get(),
    shardCounts(db, c, batchId, tx),
  ]);
  const batch = parsed(batchDocSchema, `batches/${batchId}`, doc.data());
  if (!batch && shards === 0) return undefined;
  return { ...(batch ?? {}), ...counts };
}

/**
 * The composite index of the ranking query over the jobs collection (terraform/firestore.tf
 * `jobs_ranking`, checked against this in the Terraform tests): equality on batch and status, then
 * the ranking order. The emulator needs no index, so only that test keeps the two in step.
 */
export function RANKING_INDEX(
  direction: 'higher' | 'lower',
): Array<{ field: string; order: 'ASCENDING' | 'DESCENDING' }> {
  return [
    { field: 'batch_id', order: 'ASCENDING' },
    { field: 'status', order: 'ASCENDING' },
    { field: 'result.affinity', order: direction === 'higher' ? 'DESCENDING' : 'ASCENDING' },
    { field: 'result.confidence', order: 'DESCENDING' },
    { field: '__name__', order: 'ASCENDING' },
  ];
}

/** Job updates one process runs at once (see shared/platform/limit.ts). */
const MAX_CONCURRENT_JOB_TRANSACTIONS = 32;
/** Attempts per job update when another writer changed the job between read and commit. */
const JOB_WRITE_ATTEMPTS = 10;

/** A precondition lost to a concurrent writer (update-time mismatch, or the document appeared). */
function isConflict(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === GrpcStatus.FAILED_PRECONDITION || code === GrpcStatus.ALREADY_EXISTS || code === GrpcStatus.ABORTED;
}

/** Too many concurrent writers on one job: transient, Pub/Sub redelivers. */
export class ContentionError extends Error {
  readonly code = 10; // ABORTED
  constructor(message: string) {
    super(message);
    this.name = 'ContentionError';
  }
}

export function createFirestoreJobStore(
  db: Firestore,
  c: Collections,
  options: { counterShards?: number } = {},
): JobStore {
  const shards = options.counterShards ?? 16;
  const jobs = db.collection(c.jobs);
  const batches = db.collection(c.batches);
  const limit = createLimiter(MAX_CONCURRENT_JOB_TRANSACTIONS);

  return {
    async getJob(jobId) {
      return parsed(jobDocSchema, `jobs/${jobId}`, (await jobs.doc(jobId).get()).data()) satisfies JobDoc | undefined;
    },

    async applyToJob(jobId, decide) {
      return limit(async () => {
        for (let attempt = 1; ; attempt++) {
          const snap = await jobs.doc(jobId).get();
          const plan = decide(parsed(jobDocSchema, `jobs/${jobId}`, snap.data()) satisfies JobDoc | undefined);
          if (plan.kind === 'duplicate') return plan;
          const batch = db.batch();
          writePlan(db, c, shards, batch, jobId, plan, snap.exists ? snap.updateTime : undefined);
          try {
            await batch.commit();
            return plan;
          } catch (err) {
            // Someone wrote the job since it was read: read it again and decide again.
            if (!isConflict(err)) throw err;
            if (attempt >= JOB_WRITE_ATTEMPTS)
              throw new ContentionError(`jobs/${jobId} kept changing under ${JOB_WRITE_ATTEMPTS} attempts`);
            await new Promise((r) => setTimeout(r, Math.random() * 20 * attempt));
          }
        }
      });
    },

    async getBatch(batchId) {
      return readBatch(db, c, batchId);
    },

    async rollupBatchCounts(batchId, now, intervalMs) {
      // Informational, so no transaction (one would lock every shard against the completions
      // incrementing them): read, decide, and write only if the document is still as read.
      const ref = batches.doc(batchId);
      const [doc, { shards: _shards, ...sums }] = await Promise.all([ref.get(), shardCounts(db, c, batchId)]);
      const stored = parsed(batchDocSchema, `batches/${batchId}`, doc.data());
      if (!rollupNeeded(stored, sums, now, intervalMs)) return false;
      const fields = { batch_id: batchId, ...sums, counts_updated_at: now, updated_at: now };
      try {
        if (doc.exists) await ref.update(fields, { lastUpdateTime: doc.updateTime! });
        else await ref.create(fields);
        return true;
      } catch (err) {
        if (isConflict(err)) return false; // another writer was first; its counts are as good
        throw err;
      }
    },

    async listBatchJobs(batchId) {
      // Only what the summary reads: a batch can hold thousands of jobs.
      const snap = await jobs
        .where('batch_id', '==', batchId)
        .select('status', 'modal_call_id', 'result', 'result_uri')
        .get();
      return snap.docs
        .map((d) => ({ id: d.id, doc: parsed(jobDocSchema, `jobs/${d.id}`, d.data()) as JobDoc }))
        .filter((j) => isTerminal(j.doc.status));
    },

    async batchTallies(batchId) {
      const snap = await counters(db, c, batchId).get();
      return sumTallies(snap.docs.map((d) => d.data() as CounterShard));
    },

    async topRankedJobs(batchId, direction, limit) {
      // The ranking order of compareRanked (shared/batch/batch.ts), on the index of RANKING_INDEX.
      let query = jobs
        .where('batch_id', '==', batchId)
        .where('status', '==', 'completed')
        .where('result.affinity', '!=', null);
      for (const { field, order } of RANKING_INDEX(direction).slice(2)) {
        query = query.orderBy(
          field === '__name__' ? FieldPath.documentId() : field,
          order === 'DESCENDING' ? 'desc' : 'asc',
        );
      }
      const snap = await query
        .limit(limit)
        .select('status', 'modal_call_id', 'result.affinity', 'result.confidence', 'result_uri')
        .get();
      return snap.docs.map((d) => ({ id: d.id, doc: parsed(jobDocSchema, `jobs/${d.id}`, d.data()) as JobDoc }));
    },

    async claimBatchFinalization(batchId, claimant, now, leaseMs) {
      // No transaction: the counts are read first (a batch, once done, stays done: a job is counted
      // once, an upgrade moves it between buckets), then the claim is written only if the batch
      // document is still as read. Of the messages that see the last count at once, one wins and
      // the others read the claim on their next try; none waits on a lock (the emulator resolves
      // contending transactions on one document by a timeout of about three seconds).
      const { shards: _shards, ...counts } = await shardCounts(db, c, batchId);
      const ref = batches.doc(batchId);
      for (let attempt = 1; ; attempt++) {
        const snap = await ref.get();
        const doc = parsed(batchDocSchema, `batches/${batchId}`, snap.data());
        const batch = doc ? { ...doc, ...counts } : undefined;
        const claim = decideFinalizationClaim(batch, isBatchDone(batch), claimant, now, leaseMs);
        if (!claim.claimed) return undefined;
        try {
          await ref.update(claim.fields, { lastUpdateTime: snap.updateTime! });
          return batch;
        } catch (err) {
          if (!isConflict(err)) throw err;
          if (attempt >= JOB_WRITE_ATTEMPTS)
            throw new ContentionError(`batches/${batchId} kept changing while its finalisation was claimed`);
        }
      }
    },

    async completeBatch(batchId, summary, summaryUri, now, claimant) {
      return db.runTransaction(async (tx) => {
        const ref = batches.doc(batchId);
        const decision = decideBatchCompletion(await readBatch(db, c, batchId, tx), summary);
        if (decision !== 'completed') return decision;
        tx.set(
          ref,
          {
            batch_id: batchId,
            status: 'completed',
            completed_jobs: summary.completed_jobs,
            failed_jobs: summary.failed_jobs,
            counts_updated_at: now,
            completed_at: now,
            updated_at: now,
            summary,
            summary_uri: summaryUri,
            batch_event_published: false,
            finalized_by: claimant,
            finalization: FieldValue.delete(),
          },
          { merge: true },
        );
        return decision;
      });
    },

    async updateBatchSummary(batchId, summary, summaryUri, now) {
      return db.runTransaction(async (tx) => {
        const ref = batches.doc(batchId);
        const batch = await readBatch(db, c, batchId, tx);
        if (!batch || !summaryIsCurrent(batch, summary)) return false;
        tx.set(
          ref,
          {
            summary,
            summary_uri: summaryUri,
            completed_jobs: summary.completed_jobs,
            failed_jobs: summary.failed_jobs,
            counts_updated_at: now,
            summary_updated_at: now,
            updated_at: now,
          },
          { merge: true },
        );
        return true;
      });
    },

    async markBatchEventPublished(batchId) {
      await batches.doc(batchId).set({ batch_event_published: true }, { merge: true });
    },

    async recordDeadLetter(entry) {
      await db
        .collection(c.deadLetters)
        .doc(entry.id)
        .set({
          code: entry.code,
          reason: entry.reason,
          message_id: entry.messageId ?? null,
          attributes: entry.attributes,
          data_base64: entry.dataBase64 ?? null,
          data_bytes: entry.dataBytes,
          recorded_at: entry.recordedAt,
          replayed: false,
        });
    },

    async recordApp(app, fields) {
      await db
        .collection(c.apps)
        .doc(app)
        .set({ app, ...fields }, { merge: true });
    },

    async recordTest(jobId, fields) {
      await db.collection(c.tests).doc(jobId).set(fields, { merge: true });
    },

    async recordWebhookStats(id, stats) {
      await db.collection(c.stats).doc(id).set(stats);
    },
  };
}
