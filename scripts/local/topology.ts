/**
 * Production's topics and subscriptions on the emulator, for the local stack (local-stack.ts):
 * what terraform/pubsub.tf and operations.tf create, with local retry timings.
 */
import type { createPubSubAdmin } from '../../shared/adapters/pubsub';
import type { RetryPolicy } from './push-relay';
import type { Service } from './serve-function';

/** What of the stack's options its topology reads (LocalStackOptions in local-stack.ts). */
export interface TopologyOptions {
  projectId: string;
  ackDeadlineSeconds?: number;
  maxDeliveryAttempts?: number;
}

export interface Topology {
  subscription: string;
  deadLetterSubscription: string;
  batchEventsSubscription: string;
  reconcileTopic: string;
  reconcileSubscription: string;
  retry: RetryPolicy;
  ackDeadlineSeconds: number;
}

/** The emulator's push subscription on `topic` to the local function on `port`, deleted when the stack stops. */
async function pushTo(
  admin: ReturnType<typeof createPubSubAdmin>,
  name: string,
  topic: string,
  to: { port: number; projectId: string; ackDeadlineSeconds: number },
  stops: Array<() => Promise<void>>,
): Promise<void> {
  const endpoint = `http://127.0.0.1:${to.port}/projects/${to.projectId}/topics/${topic}`;
  await admin.ensureSubscription(name, topic, { push: { endpoint }, ackDeadlineSeconds: to.ackDeadlineSeconds }, true);
  stops.push(() => admin.deleteSubscription(name));
}

/**
 * Production's topics and subscriptions (terraform/pubsub.tf, operations.tf) on the emulator: the
 * worker's with its retry and dead-letter policy (backoff 1–10 s here instead of 10–600 s, so that
 * ten attempts span about a minute and a dead letter can be watched), the dead letters' mirror, the
 * batch events', and the reconciler's push subscription. What is made for this stack alone is
 * deleted when it stops.
 */
export async function createTopology(
  admin: ReturnType<typeof createPubSubAdmin>,
  options: TopologyOptions,
  names: { completionsTopic: string; batchEventsTopic: string },
  ports: Record<Service, number>,
  stops: Array<() => Promise<void>>,
): Promise<Topology> {
  const { completionsTopic, batchEventsTopic } = names;
  await admin.ensureTopic(completionsTopic);
  await admin.ensureTopic(batchEventsTopic);
  const deadLetterTopic = `${completionsTopic}-dead-letter`;
  await admin.ensureTopic(deadLetterTopic);
  // The dead-letter topic's mirror: every completion Pub/Sub gives up on goes back to the worker,
  // which records it in the dead_letters collection the admin API pages (as production's does).
  const deadLetterSubscription = `${deadLetterTopic}-mirror-${ports.worker}`;
  await pushTo(
    admin,
    deadLetterSubscription,
    deadLetterTopic,
    { port: ports.worker, projectId: options.projectId, ackDeadlineSeconds: 60 },
    stops,
  );
  // Production pushes to the worker with many deliveries in flight; the emulator's push does two
  // at a time, so a relay in this process pulls and pushes the same format (startPushRelay).
  const subscription = `${completionsTopic}-worker-${ports.worker}`;
  const ackDeadlineSeconds = options.ackDeadlineSeconds ?? 60;
  const retry: RetryPolicy = {
    minimumBackoffSeconds: 1,
    maximumBackoffSeconds: 10,
    maxDeliveryAttempts: options.maxDeliveryAttempts ?? 10,
  };
  await admin.ensureSubscription(
    subscription,
    completionsTopic,
    {
      ackDeadlineSeconds,
      retry: { minimumBackoffSeconds: retry.minimumBackoffSeconds, maximumBackoffSeconds: retry.maximumBackoffSeconds },
      deadLetter: { topic: deadLetterTopic, maxDeliveryAttempts: retry.maxDeliveryAttempts },
    },
    true,
  );
  stops.push(() => admin.deleteSubscription(subscription));
  const batchEventsSubscription = `${batchEventsTopic}-local`;
  await admin.ensureSubscription(batchEventsSubscription, batchEventsTopic);
  // Cloud Scheduler → Pub/Sub → reconcileExecutions, here with a local timer (startTicks).
  const reconcileTopic = `${completionsTopic}-reconcile-ticks`;
  await admin.ensureTopic(reconcileTopic);
  const reconcileSubscription = `${reconcileTopic}-${ports.reconciler}`;
  await pushTo(
    admin,
    reconcileSubscription,
    reconcileTopic,
    { port: ports.reconciler, projectId: options.projectId, ackDeadlineSeconds: 120 },
    stops,
  );
  return {
    subscription,
    deadLetterSubscription,
    batchEventsSubscription,
    reconcileTopic,
    reconcileSubscription,
    retry,
    ackDeadlineSeconds,
  };
}
