/**
 * Batch finalisation, a use-case over the JobStore port: when every job of a batch is counted, one
 * message finalises it — summary file, then the batch document (exactly once, in a transaction),
 * then the `batch.completed` event. A crash in between is finished by the next delivery: each step
 * is idempotent and the event is published until it is marked published. A late upgrade of a
 * finalised batch recomputes its summary.
 */
import {
  isBatchDone,
  rankJobs,
  summarizeBatch,
  summaryFrom,
  summaryIsCurrent,
  type AffinityDirection,
  type BatchSummary,
} from './batch';
import { rollupDue, talliesCover } from './batch-counters';
import { RetryLaterError } from '../platform/errors';
import type { Logger } from '../observability/log';
import { encodeBatchCompleted } from '../contract/messages';
import type { BlobStore, Clock, JobStore, Publisher } from '../ports';
import type { BatchDoc } from '../contract/schemas';

/** After this long, a finalisation claim whose holder never finished can be taken over. */
export const FINALIZATION_LEASE_MS = 10 * 60 * 1000;
/** A completed batch whose event is still unpublished after this long lost its finaliser. */
export const EVENT_RECOVERY_MS = 60 * 1000;
/** Summaries computed while finalising one batch before giving up until the next delivery. */
const MAX_SUMMARY_ATTEMPTS = 5;

export interface BatchFinalizerDeps {
  jobs: JobStore;
  results: BlobStore;
  /** The batch-events topic, when configured. */
  batchEvents?: Publisher;
  summary: { direction: AffinityDirection; rankingSize: number };
  /** How often, at most, a running batch's document gets its counts (BATCH_COUNTS_INTERVAL_MS). */
  countsIntervalMs: number;
  clock: Clock;
  logger: Logger;
}

/**
 * One write-back of a batch's counts per process and interval: the completions of a hot batch all
 * see the document's counts as due at once, and without this each of them would read the sums and
 * race to write them (274 tries for 1,000 completions on the emulator, one winner per interval).
 * An interval of 0 means every completion writes them back.
 */
export function rollupGate(intervalMs: number, now: () => number, maxBatches = 1000) {
  const tried = new Map<string, number>();
  return {
    due(batchId: string): boolean {
      if (intervalMs === 0) return true;
      const t = now();
      const last = tried.get(batchId);
      if (last !== undefined && t - last < intervalMs) return false;
      if (tried.size >= maxBatches) tried.clear();
      tried.set(batchId, t);
      return true;
    },
  };
}

/** The `batchCompleted` line's fields. */
function completedFields(batchId: string, summary: BatchSummary, now: Date, countedAt: Date | undefined) {
  return {
    batch_id: batchId,
    total_jobs: summary.total_jobs,
    completed_jobs: summary.completed_jobs,
    failed_jobs: summary.failed_jobs,
    best_job_id: summary.best_job?.job_id ?? null,
    // The batch-completion SLI (terraform/slo.tf): from the webhook of the completion that
    // finished the batch to the batch completed, redeliveries included.
    ...(countedAt ? { finalization_latency_ms: Math.max(0, now.getTime() - countedAt.getTime()) } : {}),
  };
}

export function createBatchFinalizer(deps: BatchFinalizerDeps) {
  const { jobs, results, clock, logger } = deps;
  const rollups = rollupGate(deps.countsIntervalMs, () => clock().getTime());

  async function publishBatchEvent(batchId: string, summaryUri: string | undefined): Promise<void> {
    if (!deps.batchEvents) return;
    const event = encodeBatchCompleted(batchId, summaryUri);
    await deps.batchEvents.publish(event.data, event.attributes);
    await jobs.markBatchEventPublished(batchId);
    logger.log('INFO', 'batchEventPublished', 'batch.completed published', { batch_id: batchId });
  }

  /**
   * Finalises a batch once every job is counted: summary file, then the batch document (exactly
   * once, in a transaction), then the batch event. A crash in between is finished by the next
   * delivery: each step is idempotent and the event is published until it is marked published.
   */
  async function finalizeIfDone(batchId: string, claimant: string, countedAt?: Date): Promise<boolean> {
    const seen = await jobs.getBatch(batchId);
    if (seen?.status === 'completed') {
      if (!summaryIsCurrent(seen, seen.summary as BatchSummary | undefined)) await refreshSummary(batchId, seen);
      if (seen.batch_event_published !== false) return false;
      // The finaliser publishes the event right after completing the batch. Anyone publishes it
      // once that has evidently failed; the finaliser's own redelivered message waits until then
      // (it throws, so Pub/Sub brings it back), which keeps a concurrent duplicate from publishing twice.
      const completedAt = seen.completed_at instanceof Date ? seen.completed_at.getTime() : 0;
      if (clock().getTime() - completedAt > EVENT_RECOVERY_MS) await publishBatchEvent(batchId, seen.summary_uri);
      else if (seen.finalized_by === claimant)
        throw new RetryLaterError(`batch ${batchId} completed but its event is not published yet`);
      return false;
    }
    if (!isBatchDone(seen)) {
      if (seen && rollupDue(seen, clock(), deps.countsIntervalMs) && rollups.due(batchId))
        await jobs.rollupBatchCounts(batchId, clock(), deps.countsIntervalMs);
      return false;
    }
    // Of all the messages that see the batch done at once, one finalises it.
    let batch = await jobs.claimBatchFinalization(batchId, claimant, clock(), FINALIZATION_LEASE_MS);
    if (!batch) return false;
    // A late upgrade may move the counters while the summary is computed: the batch is completed
    // only with a summary whose counts are its counters, computed again until they hold still.
    for (let attempt = 0; attempt < MAX_SUMMARY_ATTEMPTS; attempt++) {
      const { summary, uri } = await writeSummary(batchId, batch);
      const outcome = await jobs.completeBatch(batchId, summary, uri, clock(), claimant);
      if (outcome === 'counts_moved') {
        batch = (await jobs.getBatch(batchId)) ?? batch;
        continue;
      }
      if (outcome !== 'completed') return false;
      logger.log('INFO', 'batchCompleted', 'batch completed', completedFields(batchId, summary, clock(), countedAt));
      await publishBatchEvent(batchId, uri);
      return true;
    }
    throw new RetryLaterError(`batch ${batchId}'s counts kept moving while it was finalised`);
  }

  /**
   * Computes a batch's summary from its terminal jobs and stores it. Stored objects are never
   * overwritten, so the file is named by the counts it summarises: the same counts always give the
   * same summary, and `summary_uri` names the current one.
   */
  async function writeSummary(batchId: string, batch: BatchDoc): Promise<{ summary: BatchSummary; uri: string }> {
    const summary = await computeSummary(batchId, batch);
    const path = `batches/${batchId}/summary-${summary.completed_jobs}-${summary.failed_jobs}.json`;
    const { uri } = await results.putIfAbsent(path, Buffer.from(JSON.stringify(summary, null, 2)), 'application/json');
    return { summary, uri };
  }

  /**
   * The summary from the counter shards' tallies and the ranking query: reads that do not grow with
   * the batch beyond its ranking. The counts are the shards' own (read together with the tallies),
   * so that completeBatch sees `counts_moved` if anything changed since. A batch whose shards do
   * not account for every counted job (completions applied before the tallies existed), or whose
   * ranking query finds fewer jobs than the tallies say are ranked, is summarised from all its jobs.
   */
  async function computeSummary(batchId: string, batch: BatchDoc): Promise<BatchSummary> {
    const { completed_jobs, failed_jobs, tallies } = await jobs.batchTallies(batchId);
    const counted = { ...batch, completed_jobs, failed_jobs };
    if (talliesCover({ completed_jobs, failed_jobs }, tallies)) {
      const top = await jobs.topRankedJobs(batchId, deps.summary.direction, deps.summary.rankingSize);
      const ranking = rankJobs(top, deps.summary);
      if (ranking.length === Math.min(deps.summary.rankingSize, tallies.scoreCounts.affinity)) {
        return summaryFrom(batchId, counted, tallies, ranking, deps.summary);
      }
    }
    logger.log(
      'WARNING',
      'batchSummaryFullScan',
      'batch summarised from every job: its counter shards do not hold complete tallies',
      {
        batch_id: batchId,
        completed_jobs,
        failed_jobs,
      },
    );
    return summarizeBatch(batchId, counted, await jobs.listBatchJobs(batchId), deps.summary);
  }

  /** A late success upgraded a job of a completed batch: its summary is computed again. */
  async function refreshSummary(batchId: string, batch: BatchDoc): Promise<void> {
    const { summary, uri } = await writeSummary(batchId, batch);
    if (await jobs.updateBatchSummary(batchId, summary, uri, clock())) {
      logger.log('INFO', 'batchSummaryUpdated', 'batch summary recomputed after a late upgrade', {
        batch_id: batchId,
        completed_jobs: summary.completed_jobs,
        failed_jobs: summary.failed_jobs,
      });
    }
  }

  return { finalizeIfDone };
}
