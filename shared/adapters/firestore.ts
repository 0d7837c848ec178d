/**
 * Firestore adapters. They read, run the pure decisions of shared/ (completion.ts, store-rules.ts)
 * inside their transactions, and write what those say; documents read back are parsed with the
 * schemas of shared/schemas.ts, never cast. The job update runs in a transaction that reads only the
 * job document; batch counters are blind `increment`s, which do not contend when a whole batch
 * finishes at once.
 */
import { FieldValue, Firestore, Timestamp, type Transaction } from '@google-cloud/firestore';
import type { z } from 'zod';
import { isBatchDone, summaryIsCurrent } from '../batch';
import { createLimiter } from '../limit';
import type { Collections } from '../config';
import type { JobPlan } from '../completion';
import type { AdminStore, CompletionRecord, JobStore, ReconcilerStore, WebhookStatsDoc } from '../ports';
import { batchDocSchema, executionDocSchema, jobDocSchema, type BatchDoc, type ExecutionDoc, type JobDoc } from '../schemas';
import { decideBatchCompletion, decideFinalizationClaim, executionUpdateFor, isTerminal, planExecutionRegistration, planStale } from '../store-rules';

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

/** A document read back, as its schema says; a document of another shape is an error, not a cast. */
function parsed<S extends z.ZodType>(schema: S, path: string, data: FirebaseFirestore.DocumentData | undefined): z.output<S> | undefined {
  if (!data) return undefined;
  const result = schema.safeParse(toPlain(data));
  if (!result.success) throw new Error(`${path} does not have the shape this pipeline writes: ${result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return result.data;
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
  const execution = executionUpdateFor(plan);
  if (execution) tx.set(db.collection(c.executions).doc(execution.callId), { job_id: jobId, ...execution.fields }, { merge: true });
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
      return parsed(jobDocSchema, `jobs/${jobId}`, (await jobs.doc(jobId).get()).data()) as JobDoc | undefined;
    },

    async applyToJob(jobId, decide) {
      return limit(() =>
        db.runTransaction(async (tx) => {
          const plan = decide(parsed(jobDocSchema, `jobs/${jobId}`, (await tx.get(jobs.doc(jobId))).data()) as JobDoc | undefined);
          writePlan(db, c, tx, jobId, plan);
          return plan;
        }, { maxAttempts: JOB_TRANSACTION_ATTEMPTS }));
    },

    async getBatch(batchId) {
      return parsed(batchDocSchema, `batches/${batchId}`, (await batches.doc(batchId).get()).data());
    },

    async listBatchJobs(batchId) {
      // Only what the summary reads: a batch can hold thousands of jobs.
      const snap = await jobs.where('batch_id', '==', batchId).select('status', 'modal_call_id', 'result', 'result_uri').get();
      return snap.docs
        .map((d) => ({ id: d.id, doc: parsed(jobDocSchema, `jobs/${d.id}`, d.data()) as JobDoc }))
        .filter((j) => isTerminal(j.doc.status));
    },

    async claimBatchFinalization(batchId, claimant, now, leaseMs) {
      return db.runTransaction(async (tx) => {
        const ref = batches.doc(batchId);
        const batch = parsed(batchDocSchema, `batches/${batchId}`, (await tx.get(ref)).data());
        const claim = decideFinalizationClaim(batch, isBatchDone(batch), claimant, now, leaseMs);
        if (!claim.claimed) return undefined;
        tx.set(ref, claim.fields, { merge: true });
        return batch;
      });
    },

    async completeBatch(batchId, summary, summaryUri, now, claimant) {
      return db.runTransaction(async (tx) => {
        const ref = batches.doc(batchId);
        const decision = decideBatchCompletion(parsed(batchDocSchema, `batches/${batchId}`, (await tx.get(ref)).data()), summary);
        if (decision !== 'completed') return decision;
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
        return decision;
      });
    },

    async updateBatchSummary(batchId, summary, summaryUri, now) {
      return db.runTransaction(async (tx) => {
        const ref = batches.doc(batchId);
        const batch = parsed(batchDocSchema, `batches/${batchId}`, (await tx.get(ref)).data());
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
  return parsed(executionDocSchema, `executions/${id}`, { ...data, call_id: id })!;
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
        const existing = execSnap.exists ? execution(execSnap.id, execSnap.data()!) : undefined;
        const plan = planExecutionRegistration(existing, parsed(jobDocSchema, `jobs/${input.job_id}`, jobSnap.data()) as JobDoc | undefined, input, now);
        if (plan.created) tx.set(execRef, plan.execution);
        if (plan.jobUpdate) tx.set(jobRef, plan.jobUpdate, { merge: true });
        return { created: plan.created, execution: plan.execution };
      });
    },

    async registerBatch(input, now) {
      const ref = batches.doc(input.batch_id);
      return db.runTransaction(async (tx) => {
        const existing = parsed(batchDocSchema, `batches/${input.batch_id}`, (await tx.get(ref)).data());
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
      return plain<Record<string, unknown>>((await db.collection(c.tests).doc(jobId).get()).data());
    },

    async markStale(callId, now) {
      await db.runTransaction(async (tx) => {
        const execRef = executions.doc(callId);
        const execSnap = await tx.get(execRef);
        const exec = execSnap.exists ? execution(callId, execSnap.data()!) : undefined;
        if (!exec) return;
        const jobRef = jobs.doc(exec.job_id);
        const plan = planStale(exec, parsed(jobDocSchema, `jobs/${exec.job_id}`, (await tx.get(jobRef)).data()) as JobDoc | undefined, now);
        if (plan.execution) tx.set(execRef, plan.execution, { merge: true });
        if (plan.job) tx.set(jobRef, plan.job, { merge: true });
      });
    },
  };
}

/** What `npm run show` prints: a document, or the first documents of a collection, with Timestamps as ISO strings. */
export async function readPath(db: Firestore, path: string, limit = 100): Promise<{ kind: 'document'; data: unknown } | { kind: 'missing' } | { kind: 'collection'; docs: Array<Record<string, unknown>> }> {
  const printable = (value: unknown): unknown => {
    if (value instanceof Timestamp) return value.toDate().toISOString();
    if (Array.isArray(value)) return value.map(printable);
    if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, printable(v)]));
    return value;
  };
  if (path.split('/').filter(Boolean).length % 2 === 0) {
    const snap = await db.doc(path).get();
    return snap.exists ? { kind: 'document', data: printable(snap.data()) } : { kind: 'missing' };
  }
  const snap = await db.collection(path).limit(limit).get();
  return { kind: 'collection', docs: snap.docs.map((d) => ({ id: d.id, ...(printable(d.data()) as object) })) };
}
