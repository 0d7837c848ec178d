/**
 * What one completion does to one job. Pure: given the job as stored (or nothing) and the
 * completion, it says what to write and how the job's batch counters move.
 *
 * Rules:
 * - success → `completed`, failure → `failed`, timeout → `timeout`;
 * - a job that is not terminal yet takes the completion;
 * - `completed` is final: anything after it is recorded in `late_events`, not applied;
 * - a success after `failed`/`timeout` upgrades the job (a retried call succeeded);
 * - the same event twice (same delivery id) changes nothing;
 * - a job is counted in its batch once, when it first becomes terminal; an upgrade moves it from
 *   the failed to the completed counter.
 */
import { documentError, documentResult } from './job-document';
import { scoresOf, type ScoreField } from '../batch/batch';
import type { BatchBucket, CompletionPayload, CompletionSource, CompletionStatus, JobDoc } from '../contract/schemas';
import { TERMINAL_STATUSES } from '../contract/schemas';

export type TerminalJobStatus = 'completed' | 'failed' | 'timeout' | 'cancelled';

export const JOB_STATUS_BY_OUTCOME: Record<CompletionStatus, Exclude<TerminalJobStatus, 'cancelled'>> = {
  success: 'completed',
  failure: 'failed',
  timeout: 'timeout',
};

/** A completion as the worker applies it: the payload plus where it came from and when. */
export interface Completion {
  deliveryId: string;
  payload: CompletionPayload;
  receivedAt: Date;
  source: CompletionSource;
  /** Who submitted it, for a manual completion. */
  operator?: string;
  /** Where the stored files are: result.json (and the structure) of a success, error.json of a failure whose error did not fit the document. */
  files?: { resultUri?: string; structureUri?: string; errorUri?: string };
}

/**
 * Change to the counters of the job's batch: the done-ness buckets (`completed` / `failed`), and
 * the tallies its summary is computed from (shared/batch/batch.ts): per-status counts and, for a
 * job that became completed, the scores it reported.
 */
export interface BatchDelta {
  batchId: string;
  completed: number;
  failed: number;
  statuses: Partial<Record<TerminalJobStatus, number>>;
  scores: Partial<Record<ScoreField, number>>;
}

export type JobPlan =
  | { kind: 'apply'; status: TerminalJobStatus; update: Record<string, unknown>; batch?: BatchDelta }
  | { kind: 'late'; lateEvent: Record<string, unknown>; reason: string }
  | { kind: 'duplicate'; reason: string };

function bucketOf(status: TerminalJobStatus): BatchBucket {
  return status === 'completed' ? 'completed' : 'failed';
}

export function planJobUpdate(existing: JobDoc | undefined, completion: Completion, now: Date): JobPlan {
  const next = JOB_STATUS_BY_OUTCOME[completion.payload.status];
  const current = existing?.status;
  const seen = alreadySeen(existing, completion.deliveryId);
  if (seen) return { kind: 'duplicate', reason: seen };
  const terminal = current !== undefined && TERMINAL_STATUSES.has(current);
  const upgrade = next === 'completed' && (current === 'failed' || current === 'timeout');
  if (terminal && !upgrade)
    return { kind: 'late', reason: `job is already ${current}`, lateEvent: lateEventOf(completion, next, now) };

  const batchId = completion.payload.metadata.batch_id ?? existing?.batch_id ?? null;
  const { result, extrasInFile } = documentResult(completion.payload);
  const update = jobUpdateOf(completion, next, batchId, result, now);
  if (extrasInFile) update.result_extras_in_file = true;
  if (completion.operator) update.completed_by = completion.operator;
  if (upgrade) update.previous_status = current;
  return { kind: 'apply', status: next, update, batch: batchDeltaOf(existing, batchId, next, result) };
}

/** Why this delivery was seen before (applied, or recorded as late), or undefined. */
function alreadySeen(existing: JobDoc | undefined, deliveryId: string): string | undefined {
  if (existing?.delivery_id === deliveryId) return 'this completion was already applied';
  const late =
    Array.isArray(existing?.late_events) &&
    existing.late_events.some((e) => (e as { delivery_id?: string })?.delivery_id === deliveryId);
  return late ? 'this completion was already recorded as late' : undefined;
}

/** A completion that arrived after the job was final: kept beside it, not applied. */
function lateEventOf(completion: Completion, next: TerminalJobStatus, now: Date): Record<string, unknown> {
  const { payload } = completion;
  return {
    delivery_id: completion.deliveryId,
    modal_call_id: payload.call_id,
    status: next,
    error: next === 'completed' ? null : documentError(payload).error,
    received_at: completion.receivedAt,
    recorded_at: now,
    source: completion.source,
  };
}

/**
 * The batch counters' change, when the job's bucket changes: a job counted before is counted under
 * its previous status (an upgrade moves it).
 */
function batchDeltaOf(
  existing: JobDoc | undefined,
  batchId: string | null,
  next: TerminalJobStatus,
  result: unknown,
): BatchDelta | undefined {
  const counted = existing?.batch_bucket ?? null;
  const current = existing?.status;
  const bucket = bucketOf(next);
  if (!batchId || counted === bucket) return undefined;
  const previous = counted && current && current !== next ? { [current]: -1 } : {};
  return {
    batchId,
    completed: (bucket === 'completed' ? 1 : 0) - (counted === 'completed' ? 1 : 0),
    failed: (bucket === 'failed' ? 1 : 0) - (counted === 'failed' ? 1 : 0),
    statuses: { ...previous, [next]: 1 },
    scores: next === 'completed' ? scoresOf(result as Record<string, unknown> | null) : {},
  };
}

/** The job document's fields after an applied completion. */
function jobUpdateOf(
  completion: Completion,
  next: TerminalJobStatus,
  batchId: string | null,
  result: unknown,
  now: Date,
): Record<string, unknown> {
  const { payload, files } = completion;
  return {
    job_id: payload.metadata.job_id,
    status: next,
    modal_call_id: payload.call_id,
    batch_id: batchId,
    result,
    result_uri: files?.resultUri ?? null,
    structure_uri: files?.structureUri ?? null,
    error: next === 'completed' ? null : documentError(payload).error,
    error_uri: files?.errorUri ?? null,
    delivery_id: completion.deliveryId,
    completion_source: completion.source,
    batch_bucket: batchId ? bucketOf(next) : null,
    webhook_received_at: completion.receivedAt,
    completed_at: now,
    updated_at: now,
    processing_latency_ms: Math.max(0, now.getTime() - completion.receivedAt.getTime()),
  };
}

/**
 * What cancelling a job's execution does: a job that is not terminal becomes `cancelled` (terminal,
 * counted as failed in its batch); cancelling twice changes nothing; a finished job stays finished.
 */
export function planCancel(
  existing: JobDoc | undefined,
  callId: string,
  now: Date,
  reason: string | undefined,
): JobPlan {
  const current = existing?.status;
  if (current === 'cancelled') return { kind: 'duplicate', reason: 'job is already cancelled' };
  if (current !== undefined && TERMINAL_STATUSES.has(current)) {
    return {
      kind: 'late',
      reason: `job is already ${current}`,
      lateEvent: { status: 'cancelled', modal_call_id: callId, recorded_at: now, reason: reason ?? null },
    };
  }
  const batchId = existing?.batch_id ?? null;
  return {
    kind: 'apply',
    status: 'cancelled',
    update: {
      status: 'cancelled',
      modal_call_id: existing?.modal_call_id ?? callId,
      cancelled_at: now,
      cancel_reason: reason ?? null,
      completed_at: now,
      updated_at: now,
      batch_bucket: batchId ? 'failed' : null,
      error: { message: reason ? `cancelled: ${reason}` : 'cancelled', type: 'Cancelled' },
    },
    batch: batchId ? { batchId, completed: 0, failed: 1, statuses: { cancelled: 1 }, scores: {} } : undefined,
  };
}
