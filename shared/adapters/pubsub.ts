/** Publisher over `@google-cloud/pubsub`. One client and one Topic per process, built at start. */
import { PubSub, v1 } from '@google-cloud/pubsub';
import type { Publisher } from '../ports';

export interface TopicPublisherOptions {
  /**
   * Publisher batching window. 0 sends every message at once (one per batch): the default
   * batching window would add ~10 ms to every webhook acknowledgement.
   */
  batchWindowMs: number;
  /**
   * Total time one publish may take, retries included; the client's default is 600 s, which holds a
   * webhook request through a whole outage. Unset: the client's default.
   */
  timeoutMs?: number;
}

/**
 * gRPC reconnects with exponential backoff up to 120 s by default, so after an outage the first
 * publish could wait that long for a channel. Capped, the client is back within seconds.
 */
const CHANNEL_OPTIONS = {
  'grpc.initial_reconnect_backoff_ms': 250,
  'grpc.max_reconnect_backoff_ms': 2000,
};

export function createPubSub(projectId: string | undefined): PubSub {
  return new PubSub({ ...(projectId ? { projectId } : {}), ...CHANNEL_OPTIONS });
}

export function createTopicPublisher(pubsub: PubSub, topicName: string, options: TopicPublisherOptions): Publisher {
  const batching =
    options.batchWindowMs === 0
      ? { maxMessages: 1, maxMilliseconds: 1 }
      : { maxMessages: 100, maxMilliseconds: options.batchWindowMs };
  const gaxOpts = options.timeoutMs
    ? {
        timeout: options.timeoutMs,
        retry: {
          retryCodes: [4, 10, 13, 14, 2, 8, 1],
          backoffSettings: {
            initialRetryDelayMillis: 100,
            retryDelayMultiplier: 1.3,
            maxRetryDelayMillis: 1000,
            initialRpcTimeoutMillis: options.timeoutMs,
            rpcTimeoutMultiplier: 1,
            maxRpcTimeoutMillis: options.timeoutMs,
            totalTimeoutMillis: options.timeoutMs,
          },
        },
      }
    : undefined;
  const topic = pubsub.topic(topicName, { batching, ...(gaxOpts ? { gaxOpts } : {}) });
  return {
    topic: topicName,
    publish: (data, attributes) => topic.publishMessage({ data, attributes }),
  };
}

/** Whether a topic exists and can be reached (the admin status check). */
export function createTopicProbe(pubsub: PubSub, topicName: string): () => Promise<boolean> {
  return async () => (await pubsub.topic(topicName).exists())[0];
}

/** Options of a subscription the local stack creates (the fields it uses of Pub/Sub's). */
export interface SubscriptionSpec {
  push?: { endpoint: string };
  ackDeadlineSeconds?: number;
  retry?: { minimumBackoffSeconds: number; maximumBackoffSeconds: number };
  deadLetter?: { topic: string; maxDeliveryAttempts: number };
  retainAckedMessages?: boolean;
  retentionSeconds?: number;
}

/**
 * Topic and subscription management, for the local stack (Terraform does it in production):
 * idempotent ensures, and a delete that tolerates a missing subscription.
 */
export function createPubSubAdmin(pubsub: PubSub) {
  return {
    async ensureTopic(name: string): Promise<void> {
      const [exists] = await pubsub.topic(name).exists();
      if (!exists) await pubsub.createTopic(name);
    },
    /** Creates the subscription, or replaces it (`replace`) so that its settings are the spec's. */
    async ensureSubscription(name: string, topic: string, spec: SubscriptionSpec = {}, replace = false): Promise<void> {
      if (replace)
        await pubsub
          .subscription(name)
          .delete()
          .catch(() => undefined);
      else if ((await pubsub.subscription(name).exists())[0]) return;
      await pubsub.topic(topic).createSubscription(name, {
        ...(spec.push ? { pushConfig: { pushEndpoint: spec.push.endpoint } } : {}),
        ...(spec.ackDeadlineSeconds ? { ackDeadlineSeconds: spec.ackDeadlineSeconds } : {}),
        ...(spec.retry
          ? {
              retryPolicy: {
                minimumBackoff: { seconds: spec.retry.minimumBackoffSeconds },
                maximumBackoff: { seconds: spec.retry.maximumBackoffSeconds },
              },
            }
          : {}),
        ...(spec.deadLetter
          ? {
              deadLetterPolicy: {
                deadLetterTopic: pubsub.topic(spec.deadLetter.topic).name,
                maxDeliveryAttempts: spec.deadLetter.maxDeliveryAttempts,
              },
            }
          : {}),
        ...(spec.retainAckedMessages ? { retainAckedMessages: true } : {}),
        ...(spec.retentionSeconds ? { messageRetentionDuration: { seconds: spec.retentionSeconds } } : {}),
      });
    },
    async deleteSubscription(name: string): Promise<void> {
      await pubsub
        .subscription(name)
        .delete()
        .catch(() => undefined);
    },
    close: () => pubsub.close(),
  };
}

/** One message taken from a pull subscription (what the local push relay delivers). */
export interface PulledMessage {
  ackId: string;
  id: string;
  data: Buffer;
  attributes: Record<string, string>;
  publishTime: string;
  /** 1 on the first delivery; set when the subscription has a dead-letter policy. */
  deliveryAttempt: number;
}

/** A pull subscription through unary RPCs: nothing is leased beyond the ack deadline it was pulled with. */
export interface PullSource {
  readonly subscription: string;
  pull(maxMessages: number): Promise<PulledMessage[]>;
  ack(ackIds: string[]): Promise<void>;
  /** Hands the messages back for redelivery after `seconds` (0: at once). */
  redeliverAfter(ackIds: string[], seconds: number): Promise<void>;
  close(): Promise<void>;
}

/** Unary calls fail fast (the relay retries them with its own backoff): no client-side retry loop. */
const UNARY = { timeout: 10_000, maxRetries: 0 };

/**
 * A pull source on `subscription`, through the Pub/Sub emulator at `host` (or the environment's).
 * Each call is one unary RPC with a 10 s deadline, so a reset connection is one failed call, never
 * a stream that silently stops.
 */
export function createPullSource(projectId: string, subscription: string, host?: string): PullSource {
  const pubsub = new PubSub({
    projectId,
    ...(host ? { apiEndpoint: host, emulatorMode: true } : {}),
    ...CHANNEL_OPTIONS,
  });
  // Resolves the endpoint and credentials (emulator or not) the way the PubSub client does.
  const client = new v1.SubscriberClient({ ...pubsub.options });
  const path = `projects/${projectId}/subscriptions/${subscription}`;
  return {
    subscription: path,
    async pull(maxMessages) {
      // returnImmediately: an idle pull answers at once (the relay polls), instead of holding a slot for ~9 s.
      const [response] = await client.pull({ subscription: path, maxMessages, returnImmediately: true }, UNARY);
      return (response.receivedMessages ?? []).map((r) => {
        const seconds = Number(r.message?.publishTime?.seconds ?? 0);
        const nanos = r.message?.publishTime?.nanos ?? 0;
        return {
          ackId: r.ackId ?? '',
          id: r.message?.messageId ?? '',
          data: Buffer.from(r.message?.data ?? ''),
          attributes: { ...(r.message?.attributes ?? {}) },
          publishTime: new Date(seconds * 1000 + Math.floor(nanos / 1e6)).toISOString(),
          deliveryAttempt: r.deliveryAttempt ?? 1,
        };
      });
    },
    async ack(ackIds) {
      if (ackIds.length) await client.acknowledge({ subscription: path, ackIds }, UNARY);
    },
    async redeliverAfter(ackIds, seconds) {
      if (ackIds.length)
        await client.modifyAckDeadline(
          { subscription: path, ackIds, ackDeadlineSeconds: Math.max(0, Math.min(600, Math.round(seconds))) },
          UNARY,
        );
    },
    async close() {
      await client.close();
      await pubsub.close();
    },
  };
}
