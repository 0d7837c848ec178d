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
