/** Publisher over `@google-cloud/pubsub`. One client and one Topic per process, built at start. */
import { PubSub } from '@google-cloud/pubsub';
import type { Publisher } from '../ports';

export interface TopicPublisherOptions {
  /**
   * Publisher batching window. 0 sends every message at once (one per batch): the default
   * batching window would add ~10 ms to every webhook acknowledgement.
   */
  batchWindowMs: number;
}

export function createPubSub(projectId: string | undefined): PubSub {
  return new PubSub(projectId ? { projectId } : {});
}

export function createTopicPublisher(pubsub: PubSub, topicName: string, options: TopicPublisherOptions): Publisher {
  const batching = options.batchWindowMs === 0
    ? { maxMessages: 1, maxMilliseconds: 1 }
    : { maxMessages: 100, maxMilliseconds: options.batchWindowMs };
  const topic = pubsub.topic(topicName, { batching });
  return {
    topic: topicName,
    publish: (data, attributes) => topic.publishMessage({ data, attributes }),
  };
}

/** Whether a topic exists and can be reached (the admin status check). */
export function createTopicProbe(pubsub: PubSub, topicName: string): () => Promise<boolean> {
  return async () => (await pubsub.topic(topicName).exists())[0];
}
