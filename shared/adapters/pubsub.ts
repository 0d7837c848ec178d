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
