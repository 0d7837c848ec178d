/**
 * Batch counters that outgrow one document. Production Firestore sustains about one write per
 * second to a single document, and a 10,000-job batch finishing within a minute would write its
 * batch document 166 times a second. So each completion increments one of a batch's counter shards
 * (`batches/{id}/counters/{n}`, the job's shard by a hash of its id) — never the batch document —
 * and the counts are the shards' sums, read by whoever needs them (the finaliser decides "done"
 * from them, in its transaction). The batch document's public `completed_jobs` / `failed_jobs` are
 * the sums written back at most once per interval while the batch runs, and exactly at completion.
 * Pure.
 */

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

/** Whether the batch document's public counts are due to be written again (at most once per interval). */
export function rollupDue(batch: { counts_updated_at?: Date }, now: Date, intervalMs: number): boolean {
  return !(batch.counts_updated_at instanceof Date) || now.getTime() - batch.counts_updated_at.getTime() >= intervalMs;
}

/** Whether to write the sums into the batch document now: they differ from what it says, and it is due. */
export function rollupNeeded(stored: { completed_jobs?: number; failed_jobs?: number; status?: string; counts_updated_at?: Date } | undefined, sums: Counts, now: Date, intervalMs: number): boolean {
  if (stored?.status === 'completed') return false;
  const same = (stored?.completed_jobs ?? 0) === sums.completed_jobs && (stored?.failed_jobs ?? 0) === sums.failed_jobs;
  return !same && rollupDue(stored ?? {}, now, intervalMs);
}
