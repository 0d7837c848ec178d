/**
 * The whole pipeline on one machine: emulators, topics, the push subscriptions, and the four functions
 * served by the real Functions Framework (`functions-framework --target=…`, from the built `dist/`),
 * each in its own process group. Used by `npm start`, the end-to-end tests and the benchmark.
 */
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { createPubSub, createPubSubAdmin, createPullSource, createTopicPublisher } from '../../shared/adapters/pubsub';
import { startPushRelay, type RetryPolicy } from './push-relay';
import { freePort, startEmulators, type EmulatorOptions, type Emulators } from './emulators';
import { projectRoot, serveFunction, waitForPort, type ServedFunction, type Service } from './serve-function';

export { projectRoot, serveFunction, waitForPort, type ServedFunction } from './serve-function';

export interface LocalStackOptions {
  projectId: string;
  secret?: string;
  webhookPort?: number;
  workerPort?: number;
  adminPort?: number;
  /** Ports and kept data of the emulators this stack starts (npm start); default: free ports, nothing kept. */
  emulatorOptions?: EmulatorOptions;
  /** Deliveries of one completion before it goes to the dead-letter topic (Terraform: worker.max_delivery_attempts). */
  maxDeliveryAttempts?: number;
  /** The worker subscription's ack deadline (a delivery lost with its process comes back after it). */
  ackDeadlineSeconds?: number;
  /** Completions delivered to the worker at once: Terraform's worker concurrency (16) by default, as production push fills an instance. */
  pushConcurrency?: number;
  /** Seconds between reconciliation ticks (Cloud Scheduler's role); 0: no ticks. */
  reconcileIntervalSeconds?: number;
  resultsDir?: string;
  completionsTopic?: string;
  batchEventsTopic?: string;
  /** Extra environment for both functions (collections, thresholds, …). */
  env?: Record<string, string>;
  /** Where the functions' log lines go; default: discarded. */
  onLog?: (service: Service | 'relay', line: string) => void;
}

export interface LocalStack {
  projectId: string;
  secret: string;
  secretGenerated: boolean;
  webhookUrl: string;
  workerUrl: string;
  adminUrl: string;
  reconcileTopic: string;
  completionMode: string;
  completionsTopic: string;
  batchEventsTopic: string;
  batchEventsSubscription: string;
  /** Holds completions that failed every delivery attempt. */
  deadLetterSubscription: string;
  resultsDir: string;
  emulators: Emulators;
  env: Record<string, string>;
  /** The supervised function processes, by service. */
  functions: Record<Service, ServedFunction>;
  /** The push relay's counts (pushed, acked, handed back, pull errors, reconnects). */
  relay: { stats: Record<string, number>; readonly inFlight: number };
  stop(): Promise<void>;
}


export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const projectId = options.projectId;
  const secretGenerated = !options.secret;
  const secret = options.secret ?? randomBytes(32).toString('base64');
  const completionsTopic = options.completionsTopic ?? 'modal-completions';
  const batchEventsTopic = options.batchEventsTopic ?? 'modal-batch-events';
  const resultsDir = resolve(options.resultsDir ?? join(projectRoot(), '.data', 'results'));
  const stops: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => undefined);
  };

  const emulators = await startEmulators(projectId, process.env, options.emulatorOptions);
  stops.push(() => emulators.stop());
  try {
    const webhookPort = options.webhookPort ?? (await freePort());
    const workerPort = options.workerPort ?? (await freePort());
    const adminPort = options.adminPort ?? (await freePort());
    const reconcilerPort = await freePort();
    const env: Record<string, string> = {
      ...emulators.env,
      GOOGLE_CLOUD_PROJECT: projectId,
      METADATA_SERVER_DETECTION: 'none',
      MODAL_WEBHOOK_SECRET: secret,
      COMPLETIONS_TOPIC: completionsTopic,
      BATCH_EVENTS_TOPIC: batchEventsTopic,
      RESULTS_DIR: resultsDir,
      WEBHOOK_URL: `http://127.0.0.1:${webhookPort}/api/v3/webhooks/modal/completion`,
      WEBHOOK_BASE_URL: `http://localhost:${webhookPort}`,
      STATS_FLUSH_SECONDS: '5',
      // The local functions (the admin API has no authentication here) are not reachable from the network.
      BIND_HOST: '127.0.0.1',
      // Without a Modal status endpoint to poll, the local reconciler runs the webhook-only phase.
      ...(options.env?.MODAL_STATUS_URL ? {} : { COMPLETION_MODE: 'webhook_only' }),
      ...options.env,
    };
    // Google clients pick the emulators up from the environment.
    Object.assign(process.env, { ...emulators.env, METADATA_SERVER_DETECTION: 'none' });

    const onLog = options.onLog ?? (() => undefined);
    const pubsub = createPubSub(projectId);
    const admin = createPubSubAdmin(pubsub);
    stops.push(() => admin.close());
    await admin.ensureTopic(completionsTopic);
    await admin.ensureTopic(batchEventsTopic);
    // Production's delivery policy (terraform/pubsub.tf): retries with backoff, then the dead-letter
    // topic after MAX_DELIVERY_ATTEMPTS, held by a subscription that `npm run dead-letters` reads.
    // The emulator honours it; the backoff is shorter here so that the path can be watched.
    const deadLetterTopic = `${completionsTopic}-dead-letter`;
    const deadLetterSubscription = `${deadLetterTopic}-hold`;
    await admin.ensureTopic(deadLetterTopic);
    await admin.ensureSubscription(deadLetterSubscription, deadLetterTopic, { retainAckedMessages: true, retentionSeconds: 7 * 86400 });
    // Production pushes to the worker with many deliveries in flight; the emulator's push does two
    // at a time, so a relay in this process pulls and pushes the same format, `pushConcurrency` at once.
    const subscription = `${completionsTopic}-worker-${workerPort}`;
    const ackDeadlineSeconds = options.ackDeadlineSeconds ?? 60;
    // Production backs off 10–600 s (terraform/pubsub.tf); here 1–10 s, so that ten attempts span
    // about a minute: a worker down for 10 s loses nothing, and a dead letter can be watched.
    const retry: RetryPolicy = { minimumBackoffSeconds: 1, maximumBackoffSeconds: 10, maxDeliveryAttempts: options.maxDeliveryAttempts ?? 10 };
    await admin.ensureSubscription(subscription, completionsTopic, {
      ackDeadlineSeconds,
      retry: { minimumBackoffSeconds: retry.minimumBackoffSeconds, maximumBackoffSeconds: retry.maximumBackoffSeconds },
      deadLetter: { topic: deadLetterTopic, maxDeliveryAttempts: retry.maxDeliveryAttempts },
    }, true);
    stops.push(() => admin.deleteSubscription(subscription));

    const batchEventsSubscription = `${batchEventsTopic}-local`;
    await admin.ensureSubscription(batchEventsSubscription, batchEventsTopic);

    // Cloud Scheduler → Pub/Sub → reconcileExecutions, here with a local timer.
    const reconcileTopic = `${completionsTopic}-reconcile-ticks`;
    await admin.ensureTopic(reconcileTopic);
    const reconcileSubscription = `${reconcileTopic}-${reconcilerPort}`;
    await admin.ensureSubscription(reconcileSubscription, reconcileTopic, {
      push: { endpoint: `http://127.0.0.1:${reconcilerPort}/projects/${projectId}/topics/${reconcileTopic}` },
      ackDeadlineSeconds: 120,
    }, true);
    stops.push(() => admin.deleteSubscription(reconcileSubscription));
    const ticks = createTopicPublisher(pubsub, reconcileTopic, { batchWindowMs: 0 });

    const functions: Record<Service, ServedFunction> = {
      worker: serveFunction('processCompletion', 'cloudevent', workerPort, env, (line) => onLog('worker', line)),
      webhook: serveFunction('modalWebhook', 'http', webhookPort, env, (line) => onLog('webhook', line)),
      admin: serveFunction('webhookAdmin', 'http', adminPort, env, (line) => onLog('admin', line)),
      reconciler: serveFunction('reconcileExecutions', 'cloudevent', reconcilerPort, env, (line) => onLog('reconciler', line)),
    };
    const services = Object.values(functions);
    for (const s of services) stops.push(s.stop);
    await Promise.all(services.map((s, i) => waitForPort([workerPort, webhookPort, adminPort, reconcilerPort][i]!, s.child, s.output)));
    // Started once the worker listens, and stopped before it (stops run in reverse).
    // It reaches Pub/Sub where the functions do (through a fault-injection proxy when one is given).
    const relay = startPushRelay({
      endpoint: `http://127.0.0.1:${workerPort}/projects/${projectId}/topics/${completionsTopic}`,
      concurrency: options.pushConcurrency ?? 16,
      ackDeadlineSeconds,
      retry,
      connect: () => createPullSource(projectId, subscription, env.PUBSUB_EMULATOR_HOST),
      log: (entry) => onLog('relay', JSON.stringify({ ...entry, time: new Date().toISOString() })),
    });
    stops.push(() => relay.close());

    const interval = options.reconcileIntervalSeconds ?? 0;
    if (interval > 0) {
      const timer = setInterval(() => {
        ticks.publish(Buffer.from('{"tick":true}'), {}).catch(() => undefined);
      }, interval * 1000);
      stops.push(async () => clearInterval(timer));
    }
    return {
      projectId,
      secret,
      secretGenerated,
      webhookUrl: `http://127.0.0.1:${webhookPort}`,
      workerUrl: `http://127.0.0.1:${workerPort}`,
      adminUrl: `http://127.0.0.1:${adminPort}`,
      reconcileTopic,
      completionMode: env.COMPLETION_MODE ?? 'dual',
      completionsTopic,
      batchEventsTopic,
      batchEventsSubscription,
      deadLetterSubscription,
      resultsDir,
      emulators,
      env,
      functions,
      relay,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
