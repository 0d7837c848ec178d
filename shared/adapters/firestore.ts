/**
 * Firestore adapters. They read, run the pure decisions of shared/ (completion.ts, store-rules.ts)
 * inside their transactions, and write what those say; documents read back are parsed with the
 * schemas of shared/contract/schemas.ts, never cast. The job update runs in a transaction that reads only the
 * job document; batch counters are blind `increment`s, which do not contend when a whole batch
 * finishes at once.
 */
import { FieldValue, type Firestore, type Timestamp, type WriteBatch } from '@google-cloud/firestore';
import { counterShard, shardIncrements } from '../batch/batch-counters';
import type { JobPlan } from '../completion/completion';
import { executionUpdateFor } from '../completion/store-rules';
import type { Collections } from '../config/config';
import { jobDocSchema, type JobDoc } from '../contract/schemas';
import { createLimiter } from '../platform/limit';
import type { JobStore } from '../ports';
import { createFirestoreBatchStore } from './firestore-batches';
import { counters } from './firestore-counts';
import { ContentionError, isConflict, JOB_WRITE_ATTEMPTS, parsed } from './firestore-documents';

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

/** Job updates one process runs at once (see shared/platform/limit.ts). */
const MAX_CONCURRENT_JOB_TRANSACTIONS = 32;
export function createFirestoreJobStore(
  db: Firestore,
  c: Collections,
  options: { counterShards?: number } = {},
): JobStore {
  const shards = options.counterShards ?? 16;
  const jobs = db.collection(c.jobs);
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

    ...createFirestoreBatchStore(db, c, shards),

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

    async recordReplayOutcome(deadLetterId, outcome) {
      // Merged into the record the replay came from; a record gone since changes nothing.
      await db
        .collection(c.deadLetters)
        .doc(deadLetterId)
        .update({
          replay_outcome: { kind: outcome.kind, ...(outcome.code ? { code: outcome.code } : {}), at: outcome.at },
        })
        .catch((err: unknown) => {
          if ((err as { code?: number }).code !== 5) throw err; // NOT_FOUND
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
