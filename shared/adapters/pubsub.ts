/** Publisher over `@google-cloud/pubsub`. One client and one Topic per process, built at start. */
import { PubSub } from '@google-cloud/pubsub';
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
  const batching = options.batchWindowMs === 0
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
      if (replace) await pubsub.subscription(name).delete().catch(() => undefined);
      else if ((await pubsub.subscription(name).exists())[0]) return;
      await pubsub.topic(topic).createSubscription(name, {
        ...(spec.push ? { pushConfig: { pushEndpoint: spec.push.endpoint } } : {}),
        ...(spec.ackDeadlineSeconds ? { ackDeadlineSeconds: spec.ackDeadlineSeconds } : {}),
        ...(spec.retry ? { retryPolicy: { minimumBackoff: { seconds: spec.retry.minimumBackoffSeconds }, maximumBackoff: { seconds: spec.retry.maximumBackoffSeconds } } } : {}),
        ...(spec.deadLetter ? { deadLetterPolicy: { deadLetterTopic: pubsub.topic(spec.deadLetter.topic).name, maxDeliveryAttempts: spec.deadLetter.maxDeliveryAttempts } } : {}),
        ...(spec.retainAckedMessages ? { retainAckedMessages: true } : {}),
        ...(spec.retentionSeconds ? { messageRetentionDuration: { seconds: spec.retentionSeconds } } : {}),
      });
    },
    async deleteSubscription(name: string): Promise<void> {
      await pubsub.subscription(name).delete().catch(() => undefined);
    },
    close: () => pubsub.close(),
  };
}

/**
 * Delivers a pull subscription's messages to an HTTP endpoint in Pub/Sub push format, up to
 * `concurrency` at a time, as production push does (the emulator's own push delivers two at a time):
 * a 2xx acknowledges, anything else — or no answer within `timeoutMs` — is a nack, redelivered with
 * the subscription's retry and dead-letter policies. Used by the local stack.
 */
export function startPushRelay(pubsub: PubSub, subscription: string, endpoint: string, options: { concurrency: number; timeoutMs: number }) {
  const sub = pubsub.subscription(subscription, { flowControl: { maxMessages: options.concurrency, allowExcessMessages: false } });
  const path = `projects/${pubsub.projectId}/subscriptions/${subscription}`;
  sub.on('message', (m) => {
    const publishTime = m.publishTime.toISOString();
    const body = JSON.stringify({
      message: { data: m.data.toString('base64'), attributes: m.attributes, messageId: m.id, message_id: m.id, publishTime, publish_time: publishTime },
      subscription: path,
      ...(m.deliveryAttempt ? { deliveryAttempt: m.deliveryAttempt } : {}),
    });
    fetch(endpoint, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(options.timeoutMs) })
      .then(async (res) => {
        await res.arrayBuffer();
        if (res.ok) m.ack();
        else m.nack();
      })
      .catch(() => m.nack());
  });
  sub.on('error', () => undefined);
  return { close: () => sub.close() };
}
