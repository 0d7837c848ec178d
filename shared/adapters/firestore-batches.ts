/**
 * A batch's side of the Firestore job store: its counts (firestore-counts.ts), the rollup of its
 * counts, its tallies and ranking for the summary, and the finalisation claim and completion —
 * each decision taken by shared/completion/store-rules.ts inside the transaction that writes it.
 */
import {
  FieldPath,
  FieldValue,
  type CollectionReference,
  type Firestore,
  type Query,
  type Transaction,
} from '@google-cloud/firestore';
import { isBatchDone, summaryIsCurrent, type BatchSummary } from '../batch/batch';
import { rollupNeeded, sumTallies, type CounterShard } from '../batch/batch-counters';
import type { Collections } from '../config/config';
import { decideBatchCompletion, decideFinalizationClaim, isTerminal } from '../completion/store-rules';
import { batchDocSchema, jobDocSchema, type BatchDoc, type JobDoc } from '../contract/schemas';
import type { JobStore } from '../ports';
import { counters, countReader, exactCounts } from './firestore-counts';
import { ContentionError, isConflict, JOB_WRITE_ATTEMPTS, parsed } from './firestore-documents';

/**
 * A batch: its document, with the shards' sums as its counts: two reads whatever the number of
 * shards (the document and one aggregation), side by side without a transaction — each read is
 * strongly consistent, the counts only grow towards done (a job is counted once), and completing a
 * batch reads them again inside its transaction — or, in `tx`, one locked snapshot counted exactly.
 */
async function readBatch(
  db: Firestore,
  c: Collections,
  batchId: string,
  counts: ReturnType<typeof countReader>,
  tx?: Transaction,
): Promise<BatchDoc | undefined> {
  const ref = db.collection(c.batches).doc(batchId);
  const read = tx ? tx.get(ref) : ref.get();
  const [doc, { shards, ...sums }] = await Promise.all([
    read,
    tx ? exactCounts(db, c, batchId, tx).then(({ legacy: _legacy, ...rest }) => rest) : counts(batchId, read),
  ]);
  const batch = parsed(batchDocSchema, `batches/${batchId}`, doc.data());
  if (!batch && shards === 0) return undefined;
  return { ...(batch ?? {}), ...sums };
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

/** The ranking order of compareRanked (shared/batch/batch.ts), on the index of RANKING_INDEX. */
function rankingQuery(jobs: CollectionReference, batchId: string, direction: 'higher' | 'lower'): Query {
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
  return query;
}

/** What a completed batch's document says: its final counts, summary, and who finalised it. */
function completedFields(summary: BatchSummary, summaryUri: string, now: Date, claimant: string) {
  return {
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
  };
}

type BatchStore = Pick<
  JobStore,
  | 'getBatch'
  | 'rollupBatchCounts'
  | 'listBatchJobs'
  | 'batchTallies'
  | 'topRankedJobs'
  | 'claimBatchFinalization'
  | 'completeBatch'
  | 'updateBatchSummary'
  | 'markBatchEventPublished'
>;

export function createFirestoreBatchStore(db: Firestore, c: Collections, counterShards: number): BatchStore {
  const jobs = db.collection(c.jobs);
  const batches = db.collection(c.batches);
  const counts = countReader(db, c, counterShards);
  return {
    async getBatch(batchId) {
      return readBatch(db, c, batchId, counts);
    },

    async rollupBatchCounts(batchId, now, intervalMs) {
      // Informational, so no transaction (one would lock every shard against the completions
      // incrementing them): read, decide, and write only if the document is still as read.
      const ref = batches.doc(batchId);
      const read = ref.get();
      const [doc, { shards: _shards, ...sums }] = await Promise.all([read, counts(batchId, read)]);
      const stored = parsed(batchDocSchema, `batches/${batchId}`, doc.data());
      if (!rollupNeeded(stored, sums, now, intervalMs)) return false;
      const fields = { batch_id: batchId, ...sums, counts_updated_at: now, updated_at: now };
      try {
        if (doc.exists) await ref.update(fields, { lastUpdateTime: doc.updateTime! });
        // A batch first seen through its jobs is running: the operator page lists it with the registered ones.
        else await ref.create({ ...fields, status: 'running' });
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
      const snap = await rankingQuery(jobs, batchId, direction)
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
      // Counted exactly: this decides, once per batch, that it is done.
      const { shards: _shards, legacy: _legacy, ...sums } = await exactCounts(db, c, batchId);
      const ref = batches.doc(batchId);
      for (let attempt = 1; ; attempt++) {
        const snap = await ref.get();
        const doc = parsed(batchDocSchema, `batches/${batchId}`, snap.data());
        const batch = doc ? { ...doc, ...sums } : undefined;
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
        const decision = decideBatchCompletion(await readBatch(db, c, batchId, counts, tx), summary);
        if (decision !== 'completed') return decision;
        tx.set(ref, { batch_id: batchId, ...completedFields(summary, summaryUri, now, claimant) }, { merge: true });
        return decision;
      });
    },

    async updateBatchSummary(batchId, summary, summaryUri, now) {
      return db.runTransaction(async (tx) => {
        const ref = batches.doc(batchId);
        const batch = await readBatch(db, c, batchId, counts, tx);
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
  };
}
