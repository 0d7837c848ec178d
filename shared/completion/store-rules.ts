/**
 * Decisions the Firestore adapter carries out inside its transactions. Pure: given the documents
 * as read, they say what to write; the adapter only reads, calls these and writes.
 */
import type { BatchSummary } from '../batch/batch';
import { summaryIsCurrent } from '../batch/batch';
import type { JobPlan } from './completion';
import { TERMINAL_STATUSES, type BatchDoc, type ExecutionDoc, type JobDoc } from '../contract/schemas';

export function isTerminal(status: unknown): boolean {
  return typeof status === 'string' && TERMINAL_STATUSES.has(status);
}

/** What an applied job plan also writes to `executions/{call_id}`: the call is over, with this status. */
export function executionUpdateFor(plan: JobPlan): { callId: string; fields: Record<string, unknown> } | undefined {
  if (plan.kind !== 'apply') return undefined;
  const callId = plan.update.modal_call_id;
  if (typeof callId !== 'string') return undefined;
  const jobId = plan.update.job_id;
  return {
    callId,
    fields: {
      call_id: callId,
      ...(typeof jobId === 'string' ? { job_id: jobId } : {}),
      status: plan.status,
      completed_at: plan.update.updated_at,
      updated_at: plan.update.updated_at,
    },
  };
}

export type FinalizationClaim = { claimed: true; fields: Record<string, unknown> } | { claimed: false };

/**
 * Whether `claimant` may finalise a done batch: nobody holds the claim, it holds it itself (its
 * message redelivered), or the holder's lease ran out (it crashed).
 */
export function decideFinalizationClaim(
  batch: BatchDoc | undefined,
  done: boolean,
  claimant: string,
  now: Date,
  leaseMs: number,
): FinalizationClaim {
  if (!batch || batch.status === 'completed' || !done) return { claimed: false };
  const claim = batch.finalization as { by?: string; at?: Date } | undefined;
  const held =
    claim?.by && claim.by !== claimant && claim.at instanceof Date && now.getTime() - claim.at.getTime() < leaseMs;
  return held ? { claimed: false } : { claimed: true, fields: { finalization: { by: claimant, at: now } } };
}

/** Whether a finaliser's summary may complete the batch now. */
export function decideBatchCompletion(
  batch: BatchDoc | undefined,
  summary: BatchSummary,
): 'completed' | 'already_completed' | 'counts_moved' {
  if (batch?.status === 'completed') return 'already_completed';
  if (!batch || !summaryIsCurrent(batch, summary)) return 'counts_moved';
  return 'completed';
}

export interface ExecutionRegistrationPlan {
  created: boolean;
  execution: ExecutionDoc;
  /** Fields merged into the job, when it is not terminal yet. */
  jobUpdate?: Record<string, unknown>;
}

/** Registering a call: once per call; the job becomes `running` unless it already finished. */
export function planExecutionRegistration(
  existing: ExecutionDoc | undefined,
  job: JobDoc | undefined,
  input: { call_id: string; job_id: string; batch_id?: string; app?: string },
  now: Date,
): ExecutionRegistrationPlan {
  if (existing) return { created: false, execution: existing };
  const jobTerminal = isTerminal(job?.status);
  const execution: ExecutionDoc = {
    call_id: input.call_id,
    job_id: input.job_id,
    batch_id: input.batch_id ?? null,
    app: input.app ?? null,
    status: jobTerminal ? String(job!.status) : 'running',
    registered_at: now,
    updated_at: now,
  };
  if (jobTerminal) return { created: true, execution };
  return {
    created: true,
    execution,
    jobUpdate: {
      job_id: input.job_id,
      status: 'running',
      modal_call_id: input.call_id,
      ...(input.batch_id ? { batch_id: input.batch_id } : {}),
      ...(input.app ? { modal_app: input.app } : {}),
      started_at: now,
      updated_at: now,
    },
  };
}

/** Marking a running execution stale: the execution, and its job unless the job already finished. */
export function planStale(
  execution: ExecutionDoc | undefined,
  job: JobDoc | undefined,
  now: Date,
): { execution?: Record<string, unknown>; job?: Record<string, unknown> } {
  if (!execution || execution.status !== 'running') return {};
  const fields = { status: 'stale', stale_at: now, updated_at: now };
  return { execution: fields, ...(isTerminal(job?.status) ? {} : { job: fields }) };
}
