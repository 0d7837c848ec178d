/**
 * Use-case of a `completion` message: read the body by the contract (claim check included), store
 * its files, apply it to the job and its batch counter shard in one atomic commit, then let the batch be
 * finalised. A synthetic test delivery is only recorded.
 */
import type { ClaimsLocation } from '../../shared/contract/claims';
import { planJobUpdate, type Completion, type JobPlan } from '../../shared/completion/completion';
import { createLimiter } from '../../shared/platform/limit';
import type { Logger } from '../../shared/observability/log';
import type { CompletionMeta } from '../../shared/contract/messages';
import type { BlobStore, Clock, JobStore } from '../../shared/ports';
import type { CompletionPayload } from '../../shared/contract/schemas';
import { createCompletionFiles } from './completion-files';
import { createCompletionReader } from './read-completion';
import { dataBytes, type PubSubMessage, type WorkerOutcome } from './types';

const APP_RECORD_INTERVAL_MS = 60 * 1000;
/** Large bodies (over ~256 KiB, or claim-checked) decoded at once per instance. */
const MAX_CONCURRENT_LARGE_BODIES = 4;
const LARGE_BODY_BYTES = 256 * 1024;

export interface ApplyCompletionDeps {
  jobs: JobStore;
  results: BlobStore;
  /** `countedAt`: when the webhook of the completion that may have finished the batch was received. */
  finalizeIfDone: (batchId: string, claimant: string, countedAt?: Date) => Promise<boolean>;
  /** The only place claim-checked bodies are read from (the results location). */
  claims: ClaimsLocation;
  clock: Clock;
  logger: Logger;
}

export function createApplyCompletion(deps: ApplyCompletionDeps) {
  const { jobs, results, claims, finalizeIfDone, clock, logger } = deps;

  const readCompletion = createCompletionReader(results, claims);
  const storeFiles = createCompletionFiles(results, clock);
  const appsSeen = new Map<string, number>();

  /** Notes that a Modal app's webhook verified — at most once a minute per app and instance. */
  /** `always`: a test delivery, which proves an app's configuration right now (the configure step waits for it). */
  async function recordApp(payload: CompletionPayload, meta: CompletionMeta, always = false): Promise<void> {
    const app = payload.metadata.app;
    const receivedAt = meta.receivedAt;
    if (!app || meta.source !== 'webhook') return;
    const signedWith = meta.secretIndex === 1 ? 'previous' : 'current';
    const scheme = meta.scheme ?? 'modal';
    const key = `${app}:${signedWith}:${scheme}`;
    const last = appsSeen.get(key) ?? 0;
    if (!always && clock().getTime() - last < APP_RECORD_INTERVAL_MS) return;
    appsSeen.set(key, clock().getTime());
    await jobs.recordApp(app, {
      last_verified_at: receivedAt,
      last_call_id: payload.call_id,
      signed_with: signedWith,
      signature_scheme: scheme,
      ...(signedWith === 'current' ? { last_verified_current_secret_at: receivedAt } : {}),
    });
  }

  async function recordTest(payload: CompletionPayload, id: string, receivedAt: Date): Promise<WorkerOutcome> {
    const now = clock();
    await jobs.recordTest(payload.metadata.job_id, {
      job_id: payload.metadata.job_id,
      modal_call_id: payload.call_id,
      status: 'arrived',
      delivery_id: id,
      webhook_received_at: receivedAt,
      arrived_at: now,
      processing_latency_ms: Math.max(0, now.getTime() - receivedAt.getTime()),
    });
    logger.log('INFO', 'testDeliveryArrived', 'test delivery arrived at the worker', {
      delivery_id: id,
      call_id: payload.call_id,
      job_id: payload.metadata.job_id,
    });
    return { kind: 'test_recorded', deliveryId: id, jobId: payload.metadata.job_id };
  }

  /**
   * Decoding a large body holds several copies of it at once (bytes, text, parsed, the structure);
   * only a few large ones are decoded and stored at a time, so that 16 concurrent 1.3 MB completions
   * do not hold 16 sets of copies (the worker's memory stays bounded whatever push delivers).
   */
  const heavy = createLimiter(MAX_CONCURRENT_LARGE_BODIES);
  const isLarge = (message: PubSubMessage, attributes: Record<string, string>) =>
    attributes.claim_uri !== undefined || dataBytes(message) > LARGE_BODY_BYTES;

  async function applyCompletion(message: PubSubMessage, attributes: Record<string, string>): Promise<WorkerOutcome> {
    return isLarge(message, attributes) ? heavy(() => apply(message, attributes)) : apply(message, attributes);
  }

  async function apply(message: PubSubMessage, attributes: Record<string, string>): Promise<WorkerOutcome> {
    const started = clock().getTime();
    const { meta, payload, structure } = await readCompletion(message, attributes);
    const { deliveryId: id, receivedAt, source } = meta;
    const jobId = payload.metadata.job_id;
    const ids = {
      delivery_id: id,
      call_id: payload.call_id,
      job_id: jobId,
      batch_id: payload.metadata.batch_id ?? undefined,
    };
    if (payload.metadata.test === true) {
      await recordApp(payload, meta, true);
      return recordTest(payload, id, receivedAt);
    }
    await recordApp(payload, meta);

    const completion: Completion = {
      deliveryId: id,
      payload,
      receivedAt,
      source,
      ...(meta.operator ? { operator: meta.operator } : {}),
    };
    // Files first, always before the job says `completed` (completion-files.ts); a completion costs
    // no read besides the job's own.
    completion.files = await storeFiles(payload, id, receivedAt, structure);
    const plan: JobPlan = await jobs.applyToJob(jobId, (existing) => planJobUpdate(existing, completion, clock()));

    if (plan.kind !== 'apply') {
      const event = plan.kind === 'late' ? 'completionLate' : 'completionDuplicate';
      logger.log('INFO', event, plan.reason, ids);
      const batchCompleted = ids.batch_id ? await finalizeIfDone(ids.batch_id, id, receivedAt) : false;
      return { kind: plan.kind, deliveryId: id, jobId, batchCompleted };
    }
    logger.log('INFO', 'completionApplied', `job ${plan.status}`, {
      ...ids,
      status: plan.status,
      source,
      processing_latency_ms: plan.update.processing_latency_ms,
      duration_ms: clock().getTime() - started,
    });
    const batchCompleted = plan.batch ? await finalizeIfDone(plan.batch.batchId, id, receivedAt) : false;
    return { kind: 'applied', deliveryId: id, jobId, batchCompleted };
  }

  return applyCompletion;
}
