/**
 * The one way completions that did not come through the webhook reach the completions topic: a
 * reconciler's poll, an operator's manual completion (admin API), a dead-letter replay. Each is
 * encoded by the message contract (shared/contract/messages.ts) and goes through the same idempotent path
 * in the worker: the delivery id is the call's and status's, so a completion the webhook already
 * delivered changes nothing.
 */
import { encodeOwnCompletion, encodeReplay, type EncodedMessage } from '../contract/messages';
import type { Publisher } from '../ports';
import type { CompletionPayload } from '../contract/schemas';

export interface Sent {
  messageId: string;
  deliveryId: string | undefined;
}

export function createCompletionSender(completions: Publisher) {
  const send = async (message: EncodedMessage): Promise<Sent> => ({
    messageId: await completions.publish(message.data, message.attributes),
    deliveryId: message.attributes.delivery_id,
  });
  return {
    /** What the reconciler learned by polling Modal. */
    poll: (payload: CompletionPayload, at: Date) => send(encodeOwnCompletion(payload, 'poll', at)),
    /** A completion an operator submitted, with who they are. */
    manual: (payload: CompletionPayload, operator: string, at: Date) =>
      send(encodeOwnCompletion(payload, 'manual', at, operator)),
    /** A dead letter sent back, as it was. */
    replay: (data: Buffer, attributes: Record<string, string>, from: string) =>
      send(encodeReplay(data, attributes, from)),
  };
}

export type CompletionSender = ReturnType<typeof createCompletionSender>;
