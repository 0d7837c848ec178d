/**
 * Batch counters that outgrow one document. Production Firestore sustains about one write per
 * second to a single document, and a 10,000-job batch finishing within a minute would write its
 * batch document 166 times a second. So each completion increments one of a batch's counter shards
 * (`batches/{id}/counters/{n}`, the job's shard by a hash of its id) — never the batch document —
 * and the counts are the shards' sums, read by whoever needs them (the finaliser decides "done"
 * from them; completing the batch checks them again in its transaction). The batch document's
 * public `completed_jobs` / `failed_jobs` are the sums written back at most once per interval while
 * the batch runs, and exactly at completion.
 *
 * Whether a batch is done is read as one aggregation query, the sums of `completed` and `failed`
 * over the shards (billed as one read up to 1,000 shards), not as a read of every shard: a
 * completion costs the same whatever `BATCH_COUNTER_SHARDS` is. Every shard holds both counters
 * (0 included), since an aggregation over both counts only the shards that hold both. The shards also carry the tallies a summary
 * needs (`statuses`, `score_sums`, `score_counts`), so that finalising reads the shards once, not
 * every job. Pure.
 */
import {
  OUTCOME_STATUSES,
  SCORE_FIELDS,
  emptyTallies,
  type BatchTallies,
  type OutcomeStatus,
  type ScoreField,
} from './batch';

/** The counter shard of a job: FNV-1a of its id, so a job (and its later upgrade) always lands in the same one. */
export function counterShard(jobId: string, shards: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < jobId.length; i++) {
    hash ^= jobId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % shards;
}

export interface Counts {
  completed_jobs: number;
  failed_jobs: number;
}

/** The counts of a batch: the sum of its shards (any number of them, whatever the shard count was). */
export function sumShards(shards: ReadonlyArray<{ completed?: unknown; failed?: unknown }>): Counts {
  let completed = 0;
  let failed = 0;
  for (const s of shards) {
    completed += typeof s.completed === 'number' ? s.completed : 0;
    failed += typeof s.failed === 'number' ? s.failed : 0;
  }
  return { completed_jobs: completed, failed_jobs: failed };
}

/** Whether a shard holds both counters, as every shard written by shardIncrements does. */
export function holdsBothCounters(shard: { completed?: unknown; failed?: unknown }): boolean {
  return typeof shard.completed === 'number' && typeof shard.failed === 'number';
}

/** Whether the batch document's public counts are due to be written again (at most once per interval). */
export function rollupDue(batch: { counts_updated_at?: Date }, now: Date, intervalMs: number): boolean {
  return !(batch.counts_updated_at instanceof Date) || now.getTime() - batch.counts_updated_at.getTime() >= intervalMs;
}

/** Whether to write the sums into the batch document now: they differ from what it says, and it is due. */
export function rollupNeeded(
  stored: { completed_jobs?: number; failed_jobs?: number; status?: string; counts_updated_at?: Date } | undefined,
  sums: Counts,
  now: Date,
  intervalMs: number,
): boolean {
  if (stored?.status === 'completed') return false;
  const same = (stored?.completed_jobs ?? 0) === sums.completed_jobs && (stored?.failed_jobs ?? 0) === sums.failed_jobs;
  return !same && rollupDue(stored ?? {}, now, intervalMs);
}

/** A counter shard as stored (every field optional: shards written before the tallies lack them). */
export interface CounterShard {
  completed?: unknown;
  failed?: unknown;
  statuses?: Record<string, unknown>;
  score_sums?: Record<string, unknown>;
  score_counts?: Record<string, unknown>;
}

/** The increments one counted completion adds to its job's shard, as plain numbers by field path. */
export function shardIncrements(delta: {
  completed: number;
  failed: number;
  statuses: Partial<Record<OutcomeStatus, number>>;
  scores: Partial<Record<ScoreField, number>>;
}): Record<string, number> {
  // Both counters always, 0 included: a shard holding both is counted by one aggregation over both
  // (an aggregation over several fields counts only the documents holding all of them).
  const fields: Record<string, number> = { completed: delta.completed, failed: delta.failed };
  for (const [status, n] of Object.entries(delta.statuses)) if (n) fields[`statuses.${status}`] = n;
  for (const [field, value] of Object.entries(delta.scores)) {
    fields[`score_sums.${field}`] = value;
    fields[`score_counts.${field}`] = 1;
  }
  return fields;
}

const numberOr0 = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) ? value : 0);

/** The counts and tallies of a batch: the sums over its shards. */
export function sumTallies(shards: ReadonlyArray<CounterShard>): Counts & { tallies: BatchTallies } {
  const tallies = emptyTallies();
  for (const s of shards) {
    for (const status of OUTCOME_STATUSES) tallies.statuses[status] += numberOr0(s.statuses?.[status]);
    for (const field of SCORE_FIELDS) {
      tallies.scoreSums[field] += numberOr0(s.score_sums?.[field]);
      tallies.scoreCounts[field] += numberOr0(s.score_counts?.[field]);
    }
  }
  return { ...sumShards(shards), tallies };
}

/**
 * Whether the tallies account for every counted job, as they do when every completion of the
 * batch was applied by a version that keeps them; otherwise the summary is computed from the jobs.
 */
export function talliesCover(counts: Counts, tallies: BatchTallies): boolean {
  const tallied = OUTCOME_STATUSES.reduce((n, status) => n + tallies.statuses[status], 0);
  return (
    tallied === counts.completed_jobs + counts.failed_jobs &&
    tallies.statuses.completed === counts.completed_jobs &&
    OUTCOME_STATUSES.every((status) => tallies.statuses[status] >= 0)
  );
}
