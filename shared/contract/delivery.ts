import { createHash } from 'node:crypto';
import type { CompletionStatus } from './schemas';

/**
 * The delivery id names one completion event: the same call ending with the same status always has
 * the same id, whatever the timestamp or retry. It is the idempotency key of the whole pipeline.
 */
export function deliveryId(callId: string, status: CompletionStatus): string {
  return 'dlv_' + createHash('sha256').update(`${callId}\n${status}`).digest('hex').slice(0, 32);
}
