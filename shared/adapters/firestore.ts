/**
 * JobStore on Firestore. The job update runs in a transaction that reads only the job document;
 * batch counters are blind `increment`s, which do not contend when a whole batch finishes at once.
 */
import { FieldValue, Firestore, Timestamp } from '@google-cloud/firestore';
import type { JobPlan } from '../completion';
import type { DeadLetter, JobStore } from '../ports';
import type { BatchDoc, JobDoc } from '../schemas';
import { TERMINAL_STATUSES } from '../schemas';
import { isBatchDone } from '../batch';

export interface FirestoreCollections {
  jobs: string;
  batches: string;
  deadLetters: string;
}

export function createFirestore(projectId: string | undefined, databaseId: string): Firestore {
  return new Firestore({ ...(projectId ? { projectId } : {}), databaseId, ignoreUndefinedProperties: true });
}

/** Firestore Timestamps become Dates, so that pure logic sees plain values. */
function toPlain(value: unknown): unknown {
  if (value instanceof Timestamp) return value.toDate();
  if (Array.isArray(value)) return value.map(toPlain);
  if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toPlain(v)]));
  }
  return value;
}

function plain<T>(data: FirebaseFirestore.DocumentData | undefined): T | undefined {
  return data ? (toPlain(data) as T) : undefined;
}

export function createFirestoreJobStore(db: Firestore, collections: FirestoreCollections): JobStore {
  const jobs = db.collection(collections.jobs);
  const batches = db.collection(collections.batches);

  return {
    async getJob(jobId) {
      return plain<JobDoc>((await jobs.doc(jobId).get()).data());
    },

    async applyToJob(jobId, decide) {
      return db.runTransaction(async (tx) => {
        const ref = jobs.doc(jobId);
        const plan: JobPlan = decide(plain<JobDoc>((await tx.get(ref)).data()));
        if (plan.kind === 'apply') {
          tx.set(ref, plan.update, { merge: true });
          if (plan.batch) {
            const { batchId, completed, failed } = plan.batch;
            tx.set(
              batches.doc(batchId),
              {
                batch_id: batchId,
                ...(completed ? { completed_jobs: FieldValue.increment(completed) } : {}),
                ...(failed ? { failed_jobs: FieldValue.increment(failed) } : {}),
                updated_at: plan.update.updated_at,
              },
              { merge: true },
            );
          }
        } else if (plan.kind === 'late') {
          tx.set(ref, { late_events: FieldValue.arrayUnion(plan.lateEvent), updated_at: plan.lateEvent.recorded_at }, { merge: true });
        }
        return plan;
      });
    },

    async getBatch(batchId) {
      return plain<BatchDoc>((await batches.doc(batchId).get()).data());
    },

    async listBatchJobs(batchId) {
      // Only what the summary reads: a batch can hold thousands of jobs.
      const snap = await jobs.where('batch_id', '==', batchId).select('status', 'modal_call_id', 'result', 'result_uri').get();
      return snap.docs
        .map((d) => ({ id: d.id, doc: plain<JobDoc>(d.data())! }))
        .filter((j) => TERMINAL_STATUSES.has(String(j.doc.status)));
    },

    async claimBatchFinalization(batchId, claimant, now, leaseMs) {
      return db.runTransaction(async (tx) => {
        const ref = batches.doc(batchId);
        const batch = plain<BatchDoc>((await tx.get(ref)).data());
        if (!batch || batch.status === 'completed' || !isBatchDone(batch)) return undefined;
        const claim = batch.finalization as { by?: string; at?: Date } | undefined;
        const held = claim?.by && claim.by !== claimant && claim.at && now.getTime() - claim.at.getTime() < leaseMs;
        if (held) return undefined;
        tx.set(ref, { finalization: { by: claimant, at: now } }, { merge: true });
        return batch;
      });
    },

    async completeBatch(batchId, summary, summaryUri, now) {
      return db.runTransaction(async (tx) => {
        const ref = batches.doc(batchId);
        const batch = (await tx.get(ref)).data() as BatchDoc | undefined;
        if (batch?.status === 'completed') return false;
        tx.set(
          ref,
          {
            status: 'completed',
            completed_at: now,
            updated_at: now,
            summary,
            summary_uri: summaryUri,
            batch_event_published: false,
            finalization: FieldValue.delete(),
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
      await db.collection(collections.deadLetters).doc(entry.id).set({
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
  };
}
