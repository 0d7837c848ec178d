/**
 * The completion worker (CloudEvent function `processCompletion`), fed by a Pub/Sub push
 * subscription. It applies one completion: result files first, then the job document and its
 * batch counters in one transaction, then batch finalisation when the batch is done.
 *
 * Idempotent: Pub/Sub delivers at least once and Modal retries, so the same event changes nothing
 * twice. A transient failure throws (Pub/Sub redelivers); a message that can never succeed is
 * recorded as a dead letter and acknowledged, so it cannot loop.
 */
import { createHash } from 'node:crypto';
import type { CloudEvent } from '@google-cloud/functions-framework';
import { isBatchDone, summarizeBatch, summaryIsCurrent, type BatchSummary } from '../../shared/batch';
import type { WorkerConfig } from '../../shared/config';
import { planJobUpdate, type Completion, type JobPlan } from '../../shared/completion';
import { PermanentMessageError, RetryLaterError } from '../../shared/errors';
import { classifyFailure, createRetryBudget } from '../../shared/failures';
import { documentError } from '../../shared/job-document';
import { decodeCompletionBody, decodeCompletionEnvelope, envelopeMatches, type CompletionMeta } from '../../shared/messages';
import type { Logger } from '../../shared/log';
import type { BlobStore, Clock, JobStore, Publisher } from '../../shared/ports';
import { batchCheckAttributesSchema, MESSAGE_SCHEMA_VERSION, webhookStatsSchema, type BatchDoc, type CompletionPayload } from '../../shared/schemas';
import { decodeStructure } from '../../shared/structure';

/** A Pub/Sub message as push and Eventarc deliver it (`data` base64-encoded). */
export interface PubSubMessage {
  data?: string;
  attributes?: Record<string, string>;
  messageId?: string;
  message_id?: string;
  publishTime?: string;
}

export interface PubSubEventData {
  message?: PubSubMessage;
  subscription?: string;
}

export interface WorkerDeps {
  config: Readonly<WorkerConfig>;
  jobs: JobStore;
  results: BlobStore;
  /** The batch-events topic, when configured. */
  batchEvents?: Publisher;
  clock: Clock;
  logger: Logger;
}

/** What happened to one message; returned for tests and the local runner. */
export type WorkerOutcome =
  | { kind: 'applied' | 'duplicate' | 'late'; deliveryId: string; jobId: string; batchCompleted: boolean }
  | { kind: 'batch_checked'; batchId: string; batchCompleted: boolean }
  | { kind: 'test_recorded'; deliveryId: string; jobId: string }
  | { kind: 'stats_recorded'; minutes: number }
  | { kind: 'dead_lettered'; code: string };

const MAX_DEAD_LETTER_DATA_BYTES = 512 * 1024;
/** After this long, a finalisation claim whose holder never finished can be taken over. */
const FINALIZATION_LEASE_MS = 10 * 60 * 1000;
const APP_RECORD_INTERVAL_MS = 60 * 1000;
/** A completed batch whose event is still unpublished after this long lost its finaliser. */
const EVENT_RECOVERY_MS = 60 * 1000;
/** Failures of unknown cause one message may meet on one instance before it is dead-lettered. */
const UNKNOWN_FAILURE_BUDGET = 5;
/** Summaries computed while finalising one batch before giving up until the next delivery. */
const MAX_SUMMARY_ATTEMPTS = 5;

export function createCompletionWorker(deps: WorkerDeps) {
  const { config, jobs, results, clock, logger } = deps;

  const budget = createRetryBudget(UNKNOWN_FAILURE_BUDGET);

  async function readBody(message: PubSubMessage, meta: CompletionMeta): Promise<Buffer> {
    if (!meta.claimUri) return Buffer.from(message.data ?? '', 'base64');
    const body = await results.get(meta.claimUri);
    if (!body) throw new PermanentMessageError('claim_missing', `claim-checked body not found at ${meta.claimUri}`);
    return body;
  }

  /** The envelope and the body, by the contract the webhook used (shared/messages.ts). */
  async function readCompletion(message: PubSubMessage, attributes: Record<string, string>): Promise<{ meta: CompletionMeta; payload: CompletionPayload }> {
    const envelope = decodeCompletionEnvelope(attributes);
    if (!envelope.ok) throw new PermanentMessageError('invalid_envelope', envelope.message);
    const verdict = decodeCompletionBody(await readBody(message, envelope.meta));
    if (!verdict.ok) {
      const issues = verdict.issues?.map((i) => `${i.path}: ${i.message}`).join('; ');
      throw new PermanentMessageError(verdict.code, issues ? `${verdict.message} (${issues})` : verdict.message);
    }
    if (!envelopeMatches(envelope.meta, verdict.payload)) {
      throw new PermanentMessageError('invalid_envelope', 'delivery_id does not belong to the call and status in the body');
    }
    return { meta: envelope.meta, payload: verdict.payload };
  }

  /** A stored `result.json` / `error.json`: the completion's ids and times around `content`. */
  function completionFile(payload: CompletionPayload, id: string, receivedAt: Date, content: Record<string, unknown>): Buffer {
    return Buffer.from(JSON.stringify({
      job_id: payload.metadata.job_id,
      batch_id: payload.metadata.batch_id ?? null,
      modal_call_id: payload.call_id,
      status: payload.status,
      delivery_id: id,
      ...content,
      webhook_received_at: receivedAt.toISOString(),
      stored_at: clock().toISOString(),
    }, null, 2));
  }

  /** A failure's full error, when the job document keeps only a bounded summary of it. */
  async function storeErrorFile(payload: CompletionPayload, id: string, receivedAt: Date): Promise<Completion['files']> {
    if (!documentError(payload).detailsInFile) return undefined;
    const path = `jobs/${payload.metadata.job_id}/${payload.call_id}/error.json`;
    const body = completionFile(payload, id, receivedAt, { error: payload.error ?? null });
    return { errorUri: (await results.putIfAbsent(path, body, 'application/json')).uri };
  }

  /** Stores the structure and result.json under a per-call path, unless the job will not take them. */
  async function storeFiles(payload: CompletionPayload, id: string, receivedAt: Date): Promise<Completion['files']> {
    const base = `jobs/${payload.metadata.job_id}/${payload.call_id}`;
    const structure = payload.result?.structure_file_base64 ? decodeStructure(payload.result.structure_file_base64) : undefined;
    let structureUri: string | undefined;
    if (structure) {
      structureUri = (await results.putIfAbsent(`${base}/structure.${structure.extension}`, structure.bytes, structure.contentType)).uri;
    }
    const { structure_file_base64: _omit, ...scores } = payload.result ?? {};
    const resultJson = completionFile(payload, id, receivedAt, {
      scores,
      structure_uri: structureUri ?? null,
      structure_format: structure?.extension ?? null,
    });
    const resultUri = (await results.putIfAbsent(`${base}/result.json`, resultJson, 'application/json')).uri;
    return { resultUri, structureUri };
  }

  async function publishBatchEvent(batchId: string, summaryUri: string | undefined): Promise<void> {
    if (!deps.batchEvents) return;
    const data = Buffer.from(JSON.stringify({ type: 'batch.completed', batch_id: batchId, summary_uri: summaryUri ?? null }));
    await deps.batchEvents.publish(data, {
      schema_version: MESSAGE_SCHEMA_VERSION,
      type: 'batch.completed',
      batch_id: batchId,
      event_id: `batch.completed:${batchId}`,
    });
    await jobs.markBatchEventPublished(batchId);
    logger.log('INFO', 'batchEventPublished', 'batch.completed published', { batch_id: batchId });
  }

  /**
   * Finalises a batch once every job is counted: summary file, then the batch document (exactly
   * once, in a transaction), then the batch event. A crash in between is finished by the next
   * delivery: each step is idempotent and the event is published until it is marked published.
   */
  async function finalizeIfDone(batchId: string, claimant: string): Promise<boolean> {
    const seen = await jobs.getBatch(batchId);
    if (seen?.status === 'completed') {
      if (!summaryIsCurrent(seen, seen.summary as BatchSummary | undefined)) await refreshSummary(batchId, seen);
      if (seen.batch_event_published !== false) return false;
      // The finaliser publishes the event right after completing the batch. Anyone publishes it
      // once that has evidently failed; the finaliser's own redelivered message waits until then
      // (it throws, so Pub/Sub brings it back), which keeps a concurrent duplicate from publishing twice.
      const completedAt = seen.completed_at instanceof Date ? seen.completed_at.getTime() : 0;
      if (clock().getTime() - completedAt > EVENT_RECOVERY_MS) await publishBatchEvent(batchId, seen.summary_uri);
      else if (seen.finalized_by === claimant) throw new RetryLaterError(`batch ${batchId} completed but its event is not published yet`);
      return false;
    }
    if (!isBatchDone(seen)) return false;
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
      logger.log('INFO', 'batchCompleted', 'batch completed', {
        batch_id: batchId,
        total_jobs: summary.total_jobs,
        completed_jobs: summary.completed_jobs,
        failed_jobs: summary.failed_jobs,
        best_job_id: summary.best_job?.job_id ?? null,
      });
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
    const members = await jobs.listBatchJobs(batchId);
    const summary = summarizeBatch(batchId, batch, members, { direction: config.affinityDirection, rankingSize: config.rankingSize });
    const path = `batches/${batchId}/summary-${summary.completed_jobs}-${summary.failed_jobs}.json`;
    const { uri } = await results.putIfAbsent(path, Buffer.from(JSON.stringify(summary, null, 2)), 'application/json');
    return { summary, uri };
  }

  /** A late success upgraded a job of a completed batch: its summary is computed again. */
  async function refreshSummary(batchId: string, batch: BatchDoc): Promise<void> {
    const { summary, uri } = await writeSummary(batchId, batch);
    if (await jobs.updateBatchSummary(batchId, summary, uri, clock())) {
      logger.log('INFO', 'batchSummaryUpdated', 'batch summary recomputed after a late upgrade', {
        batch_id: batchId, completed_jobs: summary.completed_jobs, failed_jobs: summary.failed_jobs,
      });
    }
  }

  const appsSeen = new Map<string, number>();

  /** Notes that a Modal app's webhook verified — at most once a minute per app and instance. */
  async function recordApp(payload: CompletionPayload, meta: CompletionMeta): Promise<void> {
    const app = payload.metadata.app;
    const receivedAt = meta.receivedAt;
    if (!app || meta.source !== 'webhook') return;
    const signedWith = meta.secretIndex === 1 ? 'previous' : 'current';
    const key = `${app}:${signedWith}`;
    const last = appsSeen.get(key) ?? 0;
    if (clock().getTime() - last < APP_RECORD_INTERVAL_MS) return;
    appsSeen.set(key, clock().getTime());
    await jobs.recordApp(app, {
      last_verified_at: receivedAt,
      last_call_id: payload.call_id,
      signed_with: signedWith,
      ...(signedWith === 'current' ? { last_verified_current_secret_at: receivedAt } : {}),
    });
  }

  async function recordStats(message: PubSubMessage): Promise<WorkerOutcome> {
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(message.data ?? '', 'base64').toString('utf8'));
    } catch {
      throw new PermanentMessageError('invalid_json', 'webhook_stats data is not valid JSON');
    }
    const stats = webhookStatsSchema.safeParse(parsed);
    if (!stats.success) throw new PermanentMessageError('invalid_payload', 'webhook_stats message does not match its schema');
    const { instance, seq, minutes } = stats.data;
    await Promise.all(Object.entries(minutes).map(([minute, counts]) =>
      jobs.recordWebhookStats(`${minute.replace(/[^0-9]/g, '')}_${instance}_${seq}`, {
        minute: new Date(minute),
        instance,
        accepted: counts.accepted,
        rejected: counts.rejected,
      })));
    return { kind: 'stats_recorded', minutes: Object.keys(minutes).length };
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
    logger.log('INFO', 'testDeliveryArrived', 'test delivery arrived at the worker', { delivery_id: id, call_id: payload.call_id, job_id: payload.metadata.job_id });
    return { kind: 'test_recorded', deliveryId: id, jobId: payload.metadata.job_id };
  }

  async function applyCompletion(message: PubSubMessage, attributes: Record<string, string>): Promise<WorkerOutcome> {
    const started = clock().getTime();
    const { meta, payload } = await readCompletion(message, attributes);
    const { deliveryId: id, receivedAt, source } = meta;
    const jobId = payload.metadata.job_id;
    const ids = { delivery_id: id, call_id: payload.call_id, job_id: jobId, batch_id: payload.metadata.batch_id ?? undefined };
    if (payload.metadata.test === true) return recordTest(payload, id, receivedAt);
    await recordApp(payload, meta);

    const completion: Completion = { deliveryId: id, payload, receivedAt, source };
    // Decide outside the transaction first, so that files are stored only when the job will take
    // them, and always before the job says `completed`.
    if (payload.status === 'success') {
      const preview = planJobUpdate(await jobs.getJob(jobId), completion, clock());
      if (preview.kind === 'apply') completion.files = await storeFiles(payload, id, receivedAt);
    } else {
      completion.files = await storeErrorFile(payload, id, receivedAt);
    }
    const plan: JobPlan = await jobs.applyToJob(jobId, (existing) => planJobUpdate(existing, completion, clock()));

    if (plan.kind !== 'apply') {
      const event = plan.kind === 'late' ? 'completionLate' : 'completionDuplicate';
      logger.log('INFO', event, plan.reason, ids);
      const batchCompleted = ids.batch_id ? await finalizeIfDone(ids.batch_id, id) : false;
      return { kind: plan.kind, deliveryId: id, jobId, batchCompleted };
    }
    logger.log('INFO', 'completionApplied', `job ${plan.status}`, {
      ...ids,
      status: plan.status,
      source,
      processing_latency_ms: plan.update.processing_latency_ms,
      duration_ms: clock().getTime() - started,
    });
    const batchCompleted = plan.batch ? await finalizeIfDone(plan.batch.batchId, id) : false;
    return { kind: 'applied', deliveryId: id, jobId, batchCompleted };
  }

  async function deadLetter(message: PubSubMessage, attributes: Record<string, string>, error: PermanentMessageError): Promise<WorkerOutcome> {
    const data = Buffer.from(message.data ?? '', 'base64');
    const messageId = message.messageId ?? message.message_id;
    const id = messageId
      ? `msg_${messageId}`
      : `dl_${createHash('sha256').update(data).update(JSON.stringify(attributes)).digest('hex').slice(0, 32)}`;
    await jobs.recordDeadLetter({
      id,
      code: error.code,
      reason: error.message,
      messageId,
      attributes,
      dataBase64: data.length <= MAX_DEAD_LETTER_DATA_BYTES ? data.toString('base64') : undefined,
      dataBytes: data.length,
      recordedAt: clock(),
    });
    logger.log('ERROR', 'messageDeadLettered', `message dead-lettered: ${error.message}`, {
      code: error.code,
      message_id: messageId,
      delivery_id: attributes.delivery_id,
      call_id: attributes.call_id,
      job_id: attributes.job_id,
    });
    return { kind: 'dead_lettered', code: error.code };
  }

  /** Handles one Pub/Sub message. Throws only for transient failures (so Pub/Sub redelivers). */
  async function handleMessage(message: PubSubMessage): Promise<WorkerOutcome> {
    const attributes = message.attributes ?? {};
    try {
      const outcome = await dispatch(message, attributes);
      if (message.messageId) budget.forget(message.messageId);
      return outcome;
    } catch (err) {
      if (err instanceof PermanentMessageError) return deadLetter(message, attributes, err);
      if (err instanceof RetryLaterError) {
        logger.log('WARNING', 'completionDeferred', `${err.message}; Pub/Sub will redeliver`, { delivery_id: attributes.delivery_id, message_id: message.messageId });
        throw err;
      }
      const verdict = classifyFailure(err);
      if (verdict.kind === 'permanent') return deadLetter(message, attributes, new PermanentMessageError(verdict.code, verdict.reason));
      if (verdict.kind === 'unknown' && message.messageId && budget.spend(message.messageId)) {
        return deadLetter(message, attributes, new PermanentMessageError('retry_budget_exhausted', `failed ${UNKNOWN_FAILURE_BUDGET} times for a reason not known to be transient: ${verdict.reason}`));
      }
      logger.log('ERROR', 'completionFailed', `completion failed, Pub/Sub will redeliver: ${verdict.reason}`, {
        failure: verdict.kind,
        delivery_id: attributes.delivery_id,
        call_id: attributes.call_id,
        job_id: attributes.job_id,
        message_id: message.messageId,
      });
      throw err;
    }
  }

  /** One use-case per message kind. */
  async function dispatch(message: PubSubMessage, attributes: Record<string, string>): Promise<WorkerOutcome> {
    switch (attributes.kind) {
      case 'batch_check': {
        const check = batchCheckAttributesSchema.safeParse(attributes);
        if (!check.success) throw new PermanentMessageError('unknown_message', 'batch_check message without a valid batch_id');
        const claimant = `batch_check:${message.messageId ?? check.data.batch_id}`;
        return { kind: 'batch_checked', batchId: check.data.batch_id, batchCompleted: await finalizeIfDone(check.data.batch_id, claimant) };
      }
      case 'webhook_stats':
        return recordStats(message);
      case 'completion':
        return applyCompletion(message, attributes);
      default:
        throw new PermanentMessageError('unknown_message', `unknown message kind ${attributes.kind ?? '(none)'}`);
    }
  }

  /** The CloudEvent entry point: push (via functions-framework) and Eventarc both arrive here. */
  async function processCompletion(event: CloudEvent<PubSubEventData>): Promise<void> {
    const message = event.data?.message;
    if (!message) {
      await deadLetter({ messageId: event.id }, {}, new PermanentMessageError('unknown_message', 'event carries no Pub/Sub message'));
      return;
    }
    await handleMessage({ ...message, messageId: message.messageId ?? message.message_id ?? event.id });
  }

  return { processCompletion, handleMessage };
}
