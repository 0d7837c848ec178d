/**
 * A message that can never succeed is recorded as a dead letter (its code, reason, attributes and,
 * up to 512 KiB, its data) and acknowledged, so that it cannot loop; an operator replays it once
 * its cause is fixed (docs/operations.md).
 */
import { createHash } from 'node:crypto';
import type { Logger } from '../../shared/observability/log';
import type { PermanentMessageError } from '../../shared/platform/errors';
import type { Clock, JobStore } from '../../shared/ports';
import { dataOf, type PubSubMessage, type WorkerOutcome } from './types';

const MAX_DEAD_LETTER_DATA_BYTES = 512 * 1024;

export function createDeadLetterRecorder(jobs: JobStore, clock: Clock, logger: Logger) {
  return async function deadLetter(
    message: PubSubMessage,
    attributes: Record<string, string>,
    error: PermanentMessageError,
  ): Promise<WorkerOutcome> {
    const data = dataOf(message);
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
  };
}
