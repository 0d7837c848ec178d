/**
 * The completion worker (CloudEvent function `processCompletion`), fed by a Pub/Sub push
 * subscription. It applies one completion: result files first, then the job document and its
 * batch counter shard in one atomic commit, then batch finalisation when the batch is done.
 *
 * Idempotent: Pub/Sub delivers at least once and Modal retries, so the same event changes nothing
 * twice. A transient failure throws (Pub/Sub redelivers); a message that can never succeed is
 * recorded as a dead letter and acknowledged, so it cannot loop.
 */
import type { CloudEvent } from '@google-cloud/functions-framework';
import { createBatchFinalizer } from '../../shared/batch/batch-finalization';
import type { WorkerConfig } from '../../shared/config/config';
import { PermanentMessageError, RetryLaterError } from '../../shared/platform/errors';
import { classifyFailure, createRetryBudget } from '../../shared/completion/failures';
import { traceFieldsOfId, withLogContext, type Logger } from '../../shared/observability/log';
import { messageTraceId } from '../../shared/contract/messages';
import type { BlobStore, Clock, JobStore, Publisher } from '../../shared/ports';
import { batchCheckAttributesSchema } from '../../shared/contract/schemas';
import { createApplyCompletion } from './apply-completion';
import {
  createDeadLetterRecorder,
  createReplayReporter,
  exhaustedDelivery,
  isForwardedDeadLetter,
} from './dead-letter';
import { createRecordStats } from './record-stats';
import type { PubSubEventData, PubSubMessage, WorkerOutcome } from './types';

export type { PubSubEventData, PubSubMessage, WorkerOutcome } from './types';

export interface WorkerDeps {
  config: Readonly<WorkerConfig>;
  jobs: JobStore;
  results: BlobStore;
  /** The batch-events topic, when configured. */
  batchEvents?: Publisher;
  clock: Clock;
  logger: Logger;
}

/** Failures of unknown cause one message may meet on one instance before it is dead-lettered. */
const UNKNOWN_FAILURE_BUDGET = 5;

export function createCompletionWorker(deps: WorkerDeps) {
  const { config, jobs, results, clock, logger } = deps;

  const budget = createRetryBudget(UNKNOWN_FAILURE_BUDGET);
  const { finalizeIfDone } = createBatchFinalizer({
    jobs,
    results,
    batchEvents: deps.batchEvents,
    clock,
    logger,
    summary: { direction: config.affinityDirection, rankingSize: config.rankingSize },
    countsIntervalMs: config.batchCountsIntervalMs,
  });
  const applyCompletion = createApplyCompletion({
    jobs,
    results,
    claims: deps.config.results,
    finalizeIfDone,
    clock,
    logger,
  });
  const recordStats = createRecordStats(jobs);

  const deadLetter = createDeadLetterRecorder(jobs, clock, logger);
  const reportReplay = createReplayReporter(jobs, clock, logger);

  /** Handles one Pub/Sub message. Throws only for transient failures (so Pub/Sub redelivers). */
  async function handleMessage(message: PubSubMessage): Promise<WorkerOutcome> {
    const attributes = message.attributes ?? {};
    // Every line about this message (applied, batch completed, event published, dead-lettered,
    // failed) carries the trace of the webhook request that brought it.
    return withLogContext(traceFieldsOfId(config.projectId, messageTraceId(attributes)), async () => {
      const outcome = await handleTraced(message, attributes);
      await reportReplay(attributes, outcome);
      return outcome;
    });
  }

  async function handleTraced(message: PubSubMessage, attributes: Record<string, string>): Promise<WorkerOutcome> {
    try {
      const outcome = await dispatch(message, attributes);
      if (message.messageId) budget.forget(message.messageId);
      return outcome;
    } catch (err) {
      if (err instanceof PermanentMessageError) return deadLetter(message, attributes, err);
      if (err instanceof RetryLaterError) {
        logger.log('WARNING', 'completionDeferred', `${err.message}; Pub/Sub will redeliver`, {
          delivery_id: attributes.delivery_id,
          message_id: message.messageId,
        });
        throw err;
      }
      const verdict = classifyFailure(err);
      if (verdict.kind === 'permanent')
        return deadLetter(message, attributes, new PermanentMessageError(verdict.code, verdict.reason));
      if (verdict.kind === 'unknown' && message.messageId && budget.spend(message.messageId)) {
        return deadLetter(
          message,
          attributes,
          new PermanentMessageError(
            'retry_budget_exhausted',
            `failed ${UNKNOWN_FAILURE_BUDGET} times for a reason not known to be transient: ${verdict.reason}`,
          ),
        );
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
    // From the dead-letter topic's mirror: recorded for the operator, never applied here.
    if (isForwardedDeadLetter(attributes)) throw exhaustedDelivery(attributes);
    switch (attributes.kind) {
      case 'batch_check': {
        const check = batchCheckAttributesSchema.safeParse(attributes);
        if (!check.success)
          throw new PermanentMessageError('unknown_message', 'batch_check message without a valid batch_id');
        const claimant = `batch_check:${message.messageId ?? check.data.batch_id}`;
        return {
          kind: 'batch_checked',
          batchId: check.data.batch_id,
          batchCompleted: await finalizeIfDone(check.data.batch_id, claimant),
        };
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
      await deadLetter(
        { messageId: event.id },
        {},
        new PermanentMessageError('unknown_message', 'event carries no Pub/Sub message'),
      );
      return;
    }
    await handleMessage({ ...message, messageId: message.messageId ?? message.message_id ?? event.id });
  }

  return { processCompletion, handleMessage };
}
