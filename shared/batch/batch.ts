/**
 * Batch outcome. Pure: whether a batch is done, and its summary and ranking from its jobs.
 * A batch is done when every job has been counted terminal: completed + failed ≥ total_jobs.
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
  mean_scores: Record<(typeof SCORE_FIELDS)[number], number | null>;
  affinity_direction: AffinityDirection;
  best_job: RankedJob | null;
  ranking: RankedJob[];
}

export const SCORE_FIELDS = ['affinity', 'confidence', 'ptm_score', 'iptm_score', 'plddt_score', 'execution_time'] as const;

/** True when `total_jobs` is known and every job has been counted. */
export function isBatchDone(batch: BatchDoc | undefined): boolean {
  if (!batch || typeof batch.total_jobs !== 'number') return false;
  return (batch.completed_jobs ?? 0) + (batch.failed_jobs ?? 0) >= batch.total_jobs;
}

/** Whether a summary's counts are the batch's current counters (a late upgrade moves them). */
export function summaryIsCurrent(batch: BatchDoc, summary: Pick<BatchSummary, 'completed_jobs' | 'failed_jobs'> | undefined): boolean {
  return summary !== undefined
    && summary.completed_jobs === (batch.completed_jobs ?? 0)
    && summary.failed_jobs === (batch.failed_jobs ?? 0);
}

function num(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

function mean(values: (number | null)[]): number | null {
  const present = values.filter((v): v is number => v !== null);
  if (present.length === 0) return null;
  return Math.round((present.reduce((a, b) => a + b, 0) / present.length) * 1e6) / 1e6;
}

/**
 * Summary of a finished batch. The ranking holds completed jobs with an affinity, best first in
 * `direction`, ties broken by higher confidence, then by job id so that the order is stable.
 */
export function summarizeBatch(
  batchId: string,
  batch: BatchDoc,
  jobs: ReadonlyArray<{ id: string; doc: JobDoc }>,
  options: { direction: AffinityDirection; rankingSize: number },
): BatchSummary {
  const completed = jobs.filter((j) => j.doc.status === 'completed');
  const countStatus = (status: string) => jobs.filter((j) => j.doc.status === status).length;
  const sign = options.direction === 'higher' ? -1 : 1;

  const ranked = completed
    .map((j) => ({
      job_id: j.id,
      modal_call_id: typeof j.doc.modal_call_id === 'string' ? j.doc.modal_call_id : null,
      affinity: num(j.doc.result?.affinity),
      confidence: num(j.doc.result?.confidence),
      result_uri: typeof j.doc.result_uri === 'string' ? j.doc.result_uri : null,
    }))
    .filter((j): j is Omit<RankedJob, 'rank'> & { affinity: number } => j.affinity !== null)
    .sort((a, b) =>
      sign * (a.affinity - b.affinity)
      || (b.confidence ?? -Infinity) - (a.confidence ?? -Infinity)
      || (a.job_id < b.job_id ? -1 : a.job_id > b.job_id ? 1 : 0))
    .slice(0, options.rankingSize)
    .map((j, i) => ({ rank: i + 1, ...j }));

  const total = typeof batch.total_jobs === 'number' ? batch.total_jobs : jobs.length;
  const meanScores = Object.fromEntries(
    SCORE_FIELDS.map((field) => [field, mean(completed.map((j) => num(j.doc.result?.[field])))]),
  ) as BatchSummary['mean_scores'];

  return {
    batch_id: batchId,
    total_jobs: total,
    completed_jobs: batch.completed_jobs ?? completed.length,
    failed_jobs: batch.failed_jobs ?? 0,
    timeout_jobs: countStatus('timeout'),
    cancelled_jobs: countStatus('cancelled'),
    success_rate: total > 0 ? Math.round(((batch.completed_jobs ?? completed.length) / total) * 1e4) / 1e4 : 0,
    mean_scores: meanScores,
    affinity_direction: options.direction,
    best_job: ranked[0] ?? null,
    ranking: ranked,
  };
}
