/**
 * Firestore adapters. The job update runs in a transaction that reads only the job document;
 * batch counters are blind `increment`s, which do not contend when a whole batch finishes at once.
 */
import { FieldValue, Firestore, Timestamp, type Transaction } from '@google-cloud/firestore';
import { isBatchDone, summaryIsCurrent } from '../batch';
import { createLimiter } from '../limit';
import type { Collections } from '../config';
import type { JobPlan } from '../completion';
import type { AdminStore, CompletionRecord, ExecutionDoc, JobStore, ReconcilerStore, WebhookStatsDoc } from '../ports';
import type { BatchDoc, JobDoc } from '../schemas';
import { TERMINAL_STATUSES } from '../schemas';

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
function plain<T>(data: FirebaseFirestore.DocumentData | undefined): T | undefined {
  return data ? (toPlain(data) as T) : undefined;
}

/** Writes what a JobPlan says, inside the caller's transaction. */
function writePlan(db: Firestore, c: Collections, tx: Transaction, jobId: string, plan: JobPlan): void {
  const ref = db.collection(c.jobs).doc(jobId);
  if (plan.kind === 'late') {
    tx.set(ref, { late_events: FieldValue.arrayUnion(plan.lateEvent), updated_at: plan.lateEvent.recorded_at }, { merge: true });
    return;
  }
  if (plan.kind !== 'apply') return;
  tx.set(ref, plan.update, { merge: true });
  const callId = plan.update.modal_call_id;
  if (typeof callId === 'string') {
    tx.set(
      db.collection(c.executions).doc(callId),
      { call_id: callId, job_id: jobId, status: plan.status, completed_at: plan.update.updated_at, updated_at: plan.update.updated_at },
      { merge: true },
    );
  }
  if (plan.batch) {
    const { batchId, completed, failed } = plan.batch;
    tx.set(
      db.collection(c.batches).doc(batchId),
      {
        batch_id: batchId,
        ...(completed ? { completed_jobs: FieldValue.increment(completed) } : {}),
        ...(failed ? { failed_jobs: FieldValue.increment(failed) } : {}),
        updated_at: plan.update.updated_at,
      },
      { merge: true },
    );
  }
}

/** Job transactions one process runs at once (see shared/limit.ts). */
const MAX_CONCURRENT_JOB_TRANSACTIONS = 32;
/** Attempts per job transaction: contention on a hot batch document aborts some commits. */
const JOB_TRANSACTION_ATTEMPTS = 10;

export function createFirestoreJobStore(db: Firestore, c: Collections): JobStore {
  const jobs = db.collection(c.jobs);
  const batches = db.collection(c.batches);
  const limit = createLimiter(MAX_CONCURRENT_JOB_TRANSACTIONS);

  return {
    async getJob(jobId) {
      return plain<JobDoc>((await jobs.doc(jobId).get()).data());
    },

    async applyToJob(jobId, decide) {
      return limit(() =>
        db.runTransaction(async (tx) => {
          const plan = decide(plain<JobDoc>((await tx.get(jobs.doc(jobId))).data()));
          writePlan(db, c, tx, jobId, plan);
          return plan;
        }, { maxAttempts: JOB_TRANSACTION_ATTEMPTS }));
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

    async completeBatch(batchId, summary, summaryUri, now, claimant) {
      return db.runTransaction(async (tx) => {
        const ref = batches.doc(batchId);
        const batch = plain<BatchDoc>((await tx.get(ref)).data());
        if (batch?.status === 'completed') return 'already_completed' as const;
        if (!batch || !summaryIsCurrent(batch, summary)) return 'counts_moved' as const;
        tx.set(
          ref,
          {
            status: 'completed',
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
        return 'completed' as const;
      });
    },

    async updateBatchSummary(batchId, summary, summaryUri, now) {
      return db.runTransaction(async (tx) => {
        const ref = batches.doc(batchId);
        const batch = plain<BatchDoc>((await tx.get(ref)).data());
        if (!batch || !summaryIsCurrent(batch, summary)) return false;
        tx.set(ref, { summary, summary_uri: summaryUri, summary_updated_at: now, updated_at: now }, { merge: true });
        return true;
      });
    },

    async markBatchEventPublished(batchId) {
      await batches.doc(batchId).set({ batch_event_published: true }, { merge: true });
    },

    async recordDeadLetter(entry) {
      await db.collection(c.deadLetters).doc(entry.id).set({
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
      await db.collection(c.apps).doc(app).set({ app, ...fields }, { merge: true });
    },

    async recordTest(jobId, fields) {
      await db.collection(c.tests).doc(jobId).set(fields, { merge: true });
    },

    async recordWebhookStats(id, stats) {
      await db.collection(c.stats).doc(id).set(stats);
    },
  };
}

function execution(id: string, data: FirebaseFirestore.DocumentData): ExecutionDoc {
  return { ...(plain<ExecutionDoc>(data) as ExecutionDoc), call_id: id };
}

export function createFirestoreAdminStore(db: Firestore, c: Collections): AdminStore & ReconcilerStore {
  const jobs = db.collection(c.jobs);
  const executions = db.collection(c.executions);
  const batches = db.collection(c.batches);
  const base = createFirestoreJobStore(db, c);

  return {
    getJob: base.getJob,
    getBatch: base.getBatch,
    applyToJob: base.applyToJob,

    async getExecution(callId) {
      const snap = await executions.doc(callId).get();
      return snap.exists ? execution(snap.id, snap.data()!) : undefined;
    },

    async registerExecution(input, now) {
      return db.runTransaction(async (tx) => {
        const execRef = executions.doc(input.call_id);
        const jobRef = jobs.doc(input.job_id);
        const [execSnap, jobSnap] = await Promise.all([tx.get(execRef), tx.get(jobRef)]);
        if (execSnap.exists) return { created: false, execution: execution(execSnap.id, execSnap.data()!) };
        const job = plain<JobDoc>(jobSnap.data());
        const jobTerminal = job?.status !== undefined && TERMINAL_STATUSES.has(job.status);
        const doc: ExecutionDoc = {
          call_id: input.call_id,
          job_id: input.job_id,
          batch_id: input.batch_id ?? null,
          app: input.app ?? null,
          status: jobTerminal ? String(job!.status) : 'running',
          registered_at: now,
          updated_at: now,
        };
        tx.set(execRef, doc);
        if (!jobTerminal) {
          tx.set(jobRef, {
            job_id: input.job_id,
            status: 'running',
            modal_call_id: input.call_id,
            ...(input.batch_id ? { batch_id: input.batch_id } : {}),
            ...(input.app ? { modal_app: input.app } : {}),
            started_at: now,
            updated_at: now,
          }, { merge: true });
        }
        return { created: true, execution: doc };
      });
    },

    async registerBatch(input, now) {
      const ref = batches.doc(input.batch_id);
      return db.runTransaction(async (tx) => {
        const existing = plain<BatchDoc>((await tx.get(ref)).data());
        tx.set(ref, {
          batch_id: input.batch_id,
          total_jobs: input.total_jobs,
          ...(input.job_ids ? { job_ids: input.job_ids } : {}),
          ...(existing?.registered_at ? {} : { registered_at: now }),
          ...(existing?.status ? {} : { status: 'running' }),
          updated_at: now,
        }, { merge: true });
        return { created: !existing?.total_jobs, batch: { ...existing, ...input } as BatchDoc };
      });
    },

    async listExecutions({ status, batchId, limit, after }) {
      let query = executions.where('status', '==', status) as FirebaseFirestore.Query;
      if (batchId) query = query.where('batch_id', '==', batchId);
      query = query.orderBy('registered_at', 'asc').orderBy('__name__', 'asc');
      if (after) query = query.startAfter(Timestamp.fromDate(after.registeredAt), after.callId);
      const snap = await query.limit(limit).get();
      return snap.docs.map((d) => execution(d.id, d.data()));
    },

    async listApps() {
      const snap = await db.collection(c.apps).get();
      return snap.docs.map((d) => plain<Record<string, unknown>>(d.data())!);
    },

    async webhookStatsSince(since) {
      const snap = await db.collection(c.stats).where('minute', '>=', since).get();
      return snap.docs.map((d) => plain<WebhookStatsDoc>(d.data())!);
    },

    async completionsSince(since) {
      const snap = await jobs.where('completed_at', '>=', since).select('status', 'completion_source', 'processing_latency_ms', 'completed_at').get();
      return snap.docs.map((d): CompletionRecord => ({
        status: String(d.get('status')),
        source: String(d.get('completion_source') ?? 'unknown'),
        latencyMs: typeof d.get('processing_latency_ms') === 'number' ? d.get('processing_latency_ms') : null,
        at: (d.get('completed_at') as Timestamp | undefined)?.toDate(),
      }));
    },

    async countDeadLettersSince(since) {
      const snap = await db.collection(c.deadLetters).where('recorded_at', '>=', since).count().get();
      return snap.data().count;
    },

    async ping() {
      await db.collection(c.batches).limit(1).get();
    },

    async getTest(jobId) {
      return plain<JobDoc>((await db.collection(c.tests).doc(jobId).get()).data());
    },

    async markStale(callId, now) {
      await db.runTransaction(async (tx) => {
        const execRef = executions.doc(callId);
        const exec = (await tx.get(execRef)).data();
        if (!exec || exec.status !== 'running') return;
        const jobRef = jobs.doc(String(exec.job_id));
        const job = (await tx.get(jobRef)).data();
        tx.set(execRef, { status: 'stale', stale_at: now, updated_at: now }, { merge: true });
        if (!job || !TERMINAL_STATUSES.has(String(job.status))) {
          tx.set(jobRef, { status: 'stale', stale_at: now, updated_at: now }, { merge: true });
        }
      });
    },
  };
}
