/**
 * The operator's Firestore store (admin API and reconciler): executions, registration, listings for
 * the metrics, and the reconciler's stale marking — each decision made by shared/completion/store-rules.ts.
 * Also `readPath`, what `npm run show` prints.
 */
import { Timestamp, type Firestore } from '@google-cloud/firestore';
import type { Collections } from '../config/config';
import type { AdminStore, CompletionRecord, ReconcilerStore, WebhookStatsDoc } from '../ports';
import { batchDocSchema, executionDocSchema, jobDocSchema, type ExecutionDoc, type JobDoc } from '../contract/schemas';
import { planExecutionRegistration, planStale } from '../completion/store-rules';
import { createFirestoreJobStore } from './firestore';
import { parsed, plain } from './firestore-documents';

function execution(id: string, data: FirebaseFirestore.DocumentData): ExecutionDoc {
  return parsed(executionDocSchema, `executions/${id}`, { ...data, call_id: id })!;
}

/** The reconciler's own writes: a running execution marked stale, and its finished pass. */
function createReconcilerWrites(db: Firestore, c: Collections): Pick<ReconcilerStore, 'markStale' | 'recordPass'> {
  const jobs = db.collection(c.jobs);
  const executions = db.collection(c.executions);
  return {
    async recordPass(summary, at) {
      await db
        .collection(c.heartbeats)
        .doc('reconciler')
        .set({ ...summary, finished_at: at });
    },

    async markStale(callId, now) {
      await db.runTransaction(async (tx) => {
        const execRef = executions.doc(callId);
        const execSnap = await tx.get(execRef);
        const exec = execSnap.exists ? execution(callId, execSnap.data()!) : undefined;
        if (!exec) return;
        const jobRef = jobs.doc(exec.job_id);
        const plan = planStale(
          exec,
          parsed(jobDocSchema, `jobs/${exec.job_id}`, (await tx.get(jobRef)).data()) satisfies JobDoc | undefined,
          now,
        );
        if (plan.execution) tx.set(execRef, plan.execution, { merge: true });
        if (plan.job) tx.set(jobRef, plan.job, { merge: true });
      });
    },
  };
}

export function createFirestoreAdminStore(db: Firestore, c: Collections): AdminStore & ReconcilerStore {
  const jobs = db.collection(c.jobs);
  const executions = db.collection(c.executions);
  const batches = db.collection(c.batches);
  const base = createFirestoreJobStore(db, c);

  return {
    getJob: (jobId) => base.getJob(jobId),
    getBatch: (batchId) => base.getBatch(batchId),
    applyToJob: (jobId, decide) => base.applyToJob(jobId, decide),

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
        const plan = planExecutionRegistration(
          existing,
          parsed(jobDocSchema, `jobs/${input.job_id}`, jobSnap.data()) satisfies JobDoc | undefined,
          input,
          now,
        );
        if (plan.created) tx.set(execRef, plan.execution);
        if (plan.jobUpdate) tx.set(jobRef, plan.jobUpdate, { merge: true });
        return { created: plan.created, execution: plan.execution };
      });
    },

    async registerBatch(input, now) {
      const ref = batches.doc(input.batch_id);
      return db.runTransaction(async (tx) => {
        const existing = parsed(batchDocSchema, `batches/${input.batch_id}`, (await tx.get(ref)).data());
        tx.set(
          ref,
          {
            batch_id: input.batch_id,
            total_jobs: input.total_jobs,
            ...(input.job_ids ? { job_ids: input.job_ids } : {}),
            ...(existing?.registered_at ? {} : { registered_at: now }),
            ...(existing?.status ? {} : { status: 'running' }),
            updated_at: now,
          },
          { merge: true },
        );
        return { created: !existing?.total_jobs, batch: { ...existing, ...input } };
      });
    },

    async listExecutions({ status, batchId, limit, after }) {
      let query = executions.where('status', '==', status);
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
      const snap = await jobs
        .where('completed_at', '>=', since)
        .select('status', 'completion_source', 'processing_latency_ms', 'completed_at')
        .get();
      return snap.docs.map((d): CompletionRecord => ({
        status: String(d.get('status')),
        source: String(d.get('completion_source') ?? 'unknown'),
        latencyMs:
          typeof d.get('processing_latency_ms') === 'number' ? (d.get('processing_latency_ms') as number) : null,
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

    ...createReconcilerWrites(db, c),
  };
}

/** What `npm run show` prints: a document, or the first documents of a collection, with Timestamps as ISO strings. */
export async function readPath(
  db: Firestore,
  path: string,
  limit = 100,
): Promise<
  | { kind: 'document'; data: unknown }
  | { kind: 'missing' }
  | { kind: 'collection'; docs: Array<Record<string, unknown>> }
> {
  const printable = (value: unknown): unknown => {
    if (value instanceof Timestamp) return value.toDate().toISOString();
    if (Array.isArray(value)) return value.map(printable);
    if (value && typeof value === 'object')
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, printable(v)]));
    return value;
  };
  if (path.split('/').filter(Boolean).length % 2 === 0) {
    const snap = await db.doc(path).get();
    return snap.exists ? { kind: 'document', data: printable(snap.data()) } : { kind: 'missing' };
  }
  const snap = await db.collection(path).limit(limit).get();
  return { kind: 'collection', docs: snap.docs.map((d) => ({ id: d.id, ...(printable(d.data()) as object) })) };
}
