/**
 * A JobStore in memory, for unit tests of the worker's use-cases without Firestore. It runs the same
 * pure decisions as the Firestore adapter (shared/completion/store-rules.ts); each call is atomic, as a
 * transaction is there.
 */
import { compareRanked, finiteScore, isBatchDone, summaryIsCurrent } from '../../shared/batch/batch';
import { shardIncrements, sumTallies, type CounterShard } from '../../shared/batch/batch-counters';
import type { DeadLetter, JobStore } from '../../shared/ports';
import type { BatchDoc, JobDoc } from '../../shared/contract/schemas';
import {
  decideBatchCompletion,
  decideFinalizationClaim,
  executionUpdateFor,
  isTerminal,
} from '../../shared/completion/store-rules';

/** A deep copy that keeps Dates as this realm's Dates (jest's structuredClone returns another realm's). */
function clone<T>(value: T): T {
  if (value instanceof Date) return new Date(value.getTime()) as T;
  if (Array.isArray(value)) return value.map(clone) as T;
  if (value && typeof value === 'object' && !Buffer.isBuffer(value))
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, clone(v)])) as T;
  return value;
}

/**
 * `legacyShards`: the batch counters keep only the two buckets, as shards written before the
 * summary tallies did, so that the finaliser's fallback can be tested.
 */
export function memoryJobStore(options: { legacyShards?: boolean } = {}) {
  const jobs = new Map<string, JobDoc>();
  /** One counter shard per batch holds what the Firestore adapter spreads over several. */
  const shards = new Map<string, Record<string, number>>();
  const batches = new Map<string, BatchDoc>();
  const executions = new Map<string, Record<string, unknown>>();
  const deadLetters = new Map<string, DeadLetter>();
  const replayOutcomes = new Map<string, { kind: string; code?: string; at: Date }>();
  const apps = new Map<string, Record<string, unknown>>();
  const tests = new Map<string, Record<string, unknown>>();
  const stats = new Map<string, unknown>();
  const copy = <T>(v: T | undefined): T | undefined => (v === undefined ? undefined : clone(v));
  const merge = <T extends object>(map: Map<string, T>, id: string, fields: Record<string, unknown>) =>
    map.set(id, { ...(map.get(id) ?? {}), ...fields } as T);

  const store: JobStore = {
    async getJob(id) {
      return copy(jobs.get(id));
    },
    async applyToJob(id, decide) {
      const plan = decide(copy(jobs.get(id)));
      if (plan.kind === 'late')
        merge(jobs, id, { late_events: [...((jobs.get(id)?.late_events as unknown[]) ?? []), plan.lateEvent] });
      if (plan.kind === 'apply') {
        merge(jobs, id, plan.update);
        const execution = executionUpdateFor(plan);
        if (execution) merge(executions, execution.callId, { job_id: id, ...execution.fields });
        if (plan.batch) {
          const b = batches.get(plan.batch.batchId) ?? {};
          batches.set(plan.batch.batchId, {
            ...b,
            batch_id: plan.batch.batchId,
            completed_jobs: (b.completed_jobs ?? 0) + plan.batch.completed,
            failed_jobs: (b.failed_jobs ?? 0) + plan.batch.failed,
          });
          const shard = shards.get(plan.batch.batchId) ?? {};
          const increments = shardIncrements(
            options.legacyShards ? { ...plan.batch, statuses: {}, scores: {} } : plan.batch,
          );
          for (const [path, n] of Object.entries(increments)) shard[path] = (shard[path] ?? 0) + n;
          shards.set(plan.batch.batchId, shard);
        }
      }
      return plan;
    },
    async getBatch(id) {
      return copy(batches.get(id));
    },
    async rollupBatchCounts() {
      // Counts live on the batch record here: nothing to roll up.
      return false;
    },
    async batchTallies(batchId) {
      const nested: CounterShard = {};
      for (const [path, n] of Object.entries(shards.get(batchId) ?? {})) {
        const [head, tail] = path.split('.') as [keyof CounterShard, string | undefined];
        if (tail === undefined) (nested as Record<string, unknown>)[head] = n;
        else ((nested as Record<string, Record<string, number>>)[head] ??= {})[tail] = n;
      }
      return sumTallies([nested]);
    },
    async topRankedJobs(batchId, direction, limit) {
      const order = compareRanked(direction);
      return [...jobs.entries()]
        .filter(
          ([, j]) => j.batch_id === batchId && j.status === 'completed' && finiteScore(j.result?.affinity) !== null,
        )
        .map(([id, doc]) => ({
          id,
          doc,
          key: {
            job_id: id,
            affinity: doc.result!.affinity as number,
            confidence: finiteScore(doc.result?.confidence),
          },
        }))
        .sort((a, b) => order(a.key, b.key))
        .slice(0, limit)
        .map(({ id, doc }) => ({ id, doc: clone(doc) }));
    },
    async listBatchJobs(batchId) {
      return [...jobs.entries()]
        .filter(([, j]) => j.batch_id === batchId && isTerminal(j.status))
        .map(([id, doc]) => ({ id, doc: clone(doc) }));
    },
    async claimBatchFinalization(batchId, claimant, now, leaseMs) {
      const batch = batches.get(batchId);
      const claim = decideFinalizationClaim(batch, isBatchDone(batch), claimant, now, leaseMs);
      if (!claim.claimed) return undefined;
      merge(batches, batchId, claim.fields);
      return copy(batches.get(batchId));
    },
    async completeBatch(batchId, summary, summaryUri, now, claimant) {
      const decision = decideBatchCompletion(batches.get(batchId), summary);
      if (decision === 'completed') {
        const { finalization: _f, ...rest } = batches.get(batchId)!;
        batches.set(batchId, {
          ...rest,
          status: 'completed',
          completed_at: now,
          updated_at: now,
          summary,
          summary_uri: summaryUri,
          batch_event_published: false,
          finalized_by: claimant,
        });
      }
      return decision;
    },
    async updateBatchSummary(batchId, summary, summaryUri, now) {
      const batch = batches.get(batchId);
      if (!batch || !summaryIsCurrent(batch, summary)) return false;
      merge(batches, batchId, { summary, summary_uri: summaryUri, summary_updated_at: now });
      return true;
    },
    async markBatchEventPublished(batchId) {
      merge(batches, batchId, { batch_event_published: true });
    },
    async recordReplayOutcome(deadLetterId, outcome) {
      replayOutcomes.set(deadLetterId, clone(outcome));
    },
    async recordDeadLetter(entry) {
      deadLetters.set(entry.id, entry);
    },
    async recordApp(app, fields) {
      merge(apps, app, { app, ...fields });
    },
    async recordTest(jobId, fields) {
      tests.set(jobId, fields);
    },
    async recordWebhookStats(id, doc) {
      stats.set(id, doc);
    },
  };
  return Object.assign(store, { jobs, shards, batches, executions, deadLetters, replayOutcomes, apps, tests, stats });
}

/** A BlobStore in memory: create-only, like the real ones. */
export function memoryBlobStore() {
  const objects = new Map<string, Buffer>();
  return {
    objects,
    async putIfAbsent(path: string, data: Buffer) {
      const uri = `mem://${path}`;
      if (objects.has(uri)) return { uri, created: false };
      objects.set(uri, data);
      return { uri, created: true };
    },
    async get(uri: string) {
      return objects.get(uri);
    },
  };
}
