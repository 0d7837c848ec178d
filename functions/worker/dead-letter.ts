/**
 * Dead letters, recorded where an operator pages them (the dead_letters collection, read by the
 * admin API and its page):
 * - a message that can never succeed is recorded (its code, reason, attributes and, up to 512 KiB,
 *   its data) and acknowledged, so that it cannot loop;
 * - a completion Pub/Sub gave up on (every delivery attempt failed) reaches the worker again from
 *   the dead-letter topic's mirror subscription, and is recorded the same way.
 * An operator replays either once its cause is fixed (docs/operations.md); what became of a replay
 * is written back on its record.
 */
import { createHash } from 'node:crypto';
import type { Logger } from '../../shared/observability/log';
import { PermanentMessageError } from '../../shared/platform/errors';
import type { Clock, JobStore } from '../../shared/ports';
import { dataOf, type PubSubMessage, type WorkerOutcome } from './types';

const MAX_DEAD_LETTER_DATA_BYTES = 512 * 1024;

/** Attributes Pub/Sub adds to a message it forwards to a dead-letter topic. */
export const DEAD_LETTER_SOURCE_SUBSCRIPTION = 'CloudPubSubDeadLetterSourceSubscription';
export const DEAD_LETTER_DELIVERY_COUNT = 'CloudPubSubDeadLetterSourceDeliveryCount';

/** Whether Pub/Sub forwarded this message from a subscription's dead-letter policy. */
export function isForwardedDeadLetter(attributes: Record<string, string>): boolean {
  return typeof attributes[DEAD_LETTER_SOURCE_SUBSCRIPTION] === 'string';
}

/** The error a forwarded dead letter is recorded with. */
export function exhaustedDelivery(attributes: Record<string, string>): PermanentMessageError {
  const attempts = attributes[DEAD_LETTER_DELIVERY_COUNT];
  return new PermanentMessageError(
    'delivery_attempts_exhausted',
    `Pub/Sub gave up after ${attempts ?? 'every'} delivery attempts; the worker failed each (see its completionFailed lines)`,
  );
}

export function createDeadLetterRecorder(jobs: JobStore, clock: Clock, logger: Logger) {
  return async function deadLetter(
    message: PubSubMessage,
    attributes: Record<string, string>,
    error: PermanentMessageError,
  ): Promise<WorkerOutcome> {
    const data = dataOf(message);
    const messageId = message.messageId ?? message.message_id;
    // The same message redelivered gets the same record. Its content's hash goes with its id: message
    // ids are unique per topic only (the worker reads two), and an emulator restarts them at 1.
    const content = createHash('sha256').update(data).update(JSON.stringify(attributes)).digest('hex');
    const id = messageId ? `msg_${messageId}_${content.slice(0, 12)}` : `dl_${content.slice(0, 32)}`;
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
      dead_letter_id: id,
      message_id: messageId,
      delivery_id: attributes.delivery_id,
      call_id: attributes.call_id,
      job_id: attributes.job_id,
    });
    return { kind: 'dead_lettered', code: error.code };
  };
}

/**
 * A replayed message (`replayed_from`: its dead letter's id) ended: its outcome goes on that
 * record, where the operator who replayed it looks. A failure to write it is logged, not thrown:
 * the completion itself is applied, and redelivering it would change nothing.
 */
export function createReplayReporter(jobs: JobStore, clock: Clock, logger: Logger) {
  return async function reportReplay(attributes: Record<string, string>, outcome: WorkerOutcome): Promise<void> {
    const from = attributes.replayed_from;
    if (!from) return;
    try {
      await jobs.recordReplayOutcome(from, {
        kind: outcome.kind,
        ...(outcome.kind === 'dead_lettered' ? { code: outcome.code } : {}),
        at: clock(),
      });
    } catch (err) {
      logger.log('WARNING', 'replayOutcomeNotRecorded', `the outcome of a replay was not recorded: ${String(err)}`, {
        dead_letter_id: from,
        delivery_id: attributes.delivery_id,
      });
    }
  };
}
