/**
 * Batch outcome. Pure: whether a batch is done, and its summary and ranking.
 * A batch is done when every job has been counted terminal: completed + failed ≥ total_jobs.
 *
 * A summary is assembled from two parts that need not come from reading every job: the batch's
 * tallies (outcome counts and score sums, kept in its counter shards as jobs finish) and its ranking
 * (the best `rankingSize` completed jobs, an ordered query). `summarizeBatch` computes both from the
 * full list of jobs: the reference the cheaper path is tested against, and the fallback for a batch
 * whose shards predate the tallies.
 */
import type { BatchDoc, JobDoc } from '../contract/schemas';

export type AffinityDirection = 'higher' | 'lower';

export interface RankedJob {
  rank: number;
  job_id: string;
  modal_call_id: string | null;
  affinity: number | null;
  confidence: number | null;
  result_uri: string | null;
}

export interface BatchSummary {
  batch_id: string;
  total_jobs: number;
  completed_jobs: number;
  failed_jobs: number;
  timeout_jobs: number;
  cancelled_jobs: number;
  success_rate: number;
  mean_scores: Record<ScoreField, number | null>;
  affinity_direction: AffinityDirection;
  best_job: RankedJob | null;
  ranking: RankedJob[];
}

export const SCORE_FIELDS = [
  'affinity',
  'confidence',
  'ptm_score',
  'iptm_score',
  'plddt_score',
  'execution_time',
] as const;
export type ScoreField = (typeof SCORE_FIELDS)[number];
export const OUTCOME_STATUSES = ['completed', 'failed', 'timeout', 'cancelled'] as const;
export type OutcomeStatus = (typeof OUTCOME_STATUSES)[number];

/** What a summary needs of a batch's terminal jobs besides its ranking: counts per status, and score sums over completed jobs. */
export interface BatchTallies {
  statuses: Record<OutcomeStatus, number>;
  /** Sum of each score over the completed jobs that reported it. */
  scoreSums: Record<ScoreField, number>;
  /** How many completed jobs reported each score (a finite number). */
  scoreCounts: Record<ScoreField, number>;
}

export type SummaryOptions = { direction: AffinityDirection; rankingSize: number };

export function emptyTallies(): BatchTallies {
  const zeros = <K extends string>(keys: readonly K[]) =>
    Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;
  return { statuses: zeros(OUTCOME_STATUSES), scoreSums: zeros(SCORE_FIELDS), scoreCounts: zeros(SCORE_FIELDS) };
}

/** True when `total_jobs` is known and every job has been counted. */
export function isBatchDone(batch: BatchDoc | undefined): boolean {
  if (!batch || typeof batch.total_jobs !== 'number') return false;
  return (batch.completed_jobs ?? 0) + (batch.failed_jobs ?? 0) >= batch.total_jobs;
}

/** Whether a summary's counts are the batch's current counters (a late upgrade moves them). */
export function summaryIsCurrent(
  batch: BatchDoc,
  summary: Pick<BatchSummary, 'completed_jobs' | 'failed_jobs'> | undefined,
): boolean {
  return (
    summary !== undefined &&
    summary.completed_jobs === (batch.completed_jobs ?? 0) &&
    summary.failed_jobs === (batch.failed_jobs ?? 0)
  );
}

export function finiteScore(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** The scores a completed job adds to its batch's tallies: every score it reported as a finite number. */
export function scoresOf(result: Record<string, unknown> | null | undefined): Partial<Record<ScoreField, number>> {
  const scores: Partial<Record<ScoreField, number>> = {};
  for (const field of SCORE_FIELDS) {
    const value = finiteScore(result?.[field]);
    if (value !== null) scores[field] = value;
  }
  return scores;
}

/** Tallies of a list of terminal jobs (the full-scan reference). */
export function tallyJobs(jobs: ReadonlyArray<{ doc: JobDoc }>): BatchTallies {
  const tallies = emptyTallies();
  for (const { doc } of jobs) {
    if ((OUTCOME_STATUSES as readonly string[]).includes(doc.status as string))
      tallies.statuses[doc.status as OutcomeStatus] += 1;
    if (doc.status !== 'completed') continue;
    for (const [field, value] of Object.entries(scoresOf(doc.result as Record<string, unknown> | null)) as Array<
      [ScoreField, number]
    >) {
      tallies.scoreSums[field] += value;
      tallies.scoreCounts[field] += 1;
    }
  }
  return tallies;
}

/**
 * The ranking order: best affinity first in `direction`, ties broken by higher confidence (a job
 * without one after any with one), then by job id so that the order is stable. The ordered query
 * of the Firestore adapter sorts the same way (terraform/firestore.tf holds its index).
 */
export function compareRanked(direction: AffinityDirection) {
  const sign = direction === 'higher' ? -1 : 1;
  return (
    a: { job_id: string; affinity: number; confidence: number | null },
    b: { job_id: string; affinity: number; confidence: number | null },
  ): number =>
    sign * (a.affinity - b.affinity) ||
    (b.confidence ?? -Infinity) - (a.confidence ?? -Infinity) ||
    (a.job_id < b.job_id ? -1 : a.job_id > b.job_id ? 1 : 0);
}

/** The ranking of completed jobs with an affinity, of any subset that holds the best `rankingSize`. */
export function rankJobs(jobs: ReadonlyArray<{ id: string; doc: JobDoc }>, options: SummaryOptions): RankedJob[] {
  return jobs
    .filter((j) => j.doc.status === 'completed')
    .map((j) => ({
      job_id: j.id,
      modal_call_id: typeof j.doc.modal_call_id === 'string' ? j.doc.modal_call_id : null,
      affinity: finiteScore(j.doc.result?.affinity),
      confidence: finiteScore(j.doc.result?.confidence),
      result_uri: typeof j.doc.result_uri === 'string' ? j.doc.result_uri : null,
    }))
    .filter((j): j is Omit<RankedJob, 'rank'> & { affinity: number } => j.affinity !== null)
    .sort(compareRanked(options.direction))
    .slice(0, options.rankingSize)
    .map((j, i) => ({ rank: i + 1, ...j }));
}

const round = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits;

/** A batch's summary from its counts, tallies and ranking. */
export function summaryFrom(
  batchId: string,
  batch: BatchDoc,
  tallies: BatchTallies,
  ranking: RankedJob[],
  options: SummaryOptions,
): BatchSummary {
  const completedJobs = batch.completed_jobs ?? tallies.statuses.completed;
  const total = typeof batch.total_jobs === 'number' ? batch.total_jobs : completedJobs + (batch.failed_jobs ?? 0);
  const meanScores = Object.fromEntries(
    SCORE_FIELDS.map((field) => [
      field,
      tallies.scoreCounts[field] > 0 ? round(tallies.scoreSums[field] / tallies.scoreCounts[field], 6) : null,
    ]),
  ) as BatchSummary['mean_scores'];
  return {
    batch_id: batchId,
    total_jobs: total,
    completed_jobs: completedJobs,
    failed_jobs: batch.failed_jobs ?? 0,
    timeout_jobs: tallies.statuses.timeout,
    cancelled_jobs: tallies.statuses.cancelled,
    success_rate: total > 0 ? round(completedJobs / total, 4) : 0,
    mean_scores: meanScores,
    affinity_direction: options.direction,
    best_job: ranking[0] ?? null,
    ranking,
  };
}

/** Summary of a finished batch from every one of its terminal jobs (the reference, and the fallback). */
export function summarizeBatch(
  batchId: string,
  batch: BatchDoc,
  jobs: ReadonlyArray<{ id: string; doc: JobDoc }>,
  options: SummaryOptions,
): BatchSummary {
  return summaryFrom(
    batchId,
    { ...batch, total_jobs: typeof batch.total_jobs === 'number' ? batch.total_jobs : jobs.length },
    tallyJobs(jobs),
    rankJobs(jobs, options),
    options,
  );
}
