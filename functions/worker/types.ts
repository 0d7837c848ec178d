/** The worker's message and outcome types, shared by its use-cases. */

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

/** What happened to one message; returned for tests and the local runner. */
export type WorkerOutcome =
  | { kind: 'applied' | 'duplicate' | 'late'; deliveryId: string; jobId: string; batchCompleted: boolean }
  | { kind: 'batch_checked'; batchId: string; batchCompleted: boolean }
  | { kind: 'test_recorded'; deliveryId: string; jobId: string }
  | { kind: 'stats_recorded'; minutes: number }
  | { kind: 'dead_lettered'; code: string };

/** A message's data as bytes. */
export function dataOf(message: PubSubMessage): Buffer {
  return Buffer.from(message.data ?? '', 'base64');
}

/** How many bytes a message's data holds, without decoding it. */
export function dataBytes(message: PubSubMessage): number {
  return Math.floor(((message.data?.length ?? 0) * 3) / 4);
}
