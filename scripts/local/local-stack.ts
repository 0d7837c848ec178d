/**
 * The whole pipeline on one machine: emulators, topics, the push subscriptions, and the four functions
 * served by the real Functions Framework (`functions-framework --target=…`, from the built `dist/`),
 * each in its own process group. Used by `npm start`, the end-to-end tests and the benchmark.
 */
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { createPubSub, createPubSubAdmin, createPullSource, createTopicPublisher } from '../../shared/adapters/pubsub';
import { startPushRelay } from './push-relay';
import { createTopology, type Topology } from './topology';
import { startEmulators, type EmulatorOptions, type Emulators } from './emulators';
import { freePort } from './ports';
import { projectRoot, serveFunction, waitForPort, type ServedFunction, type Service } from './serve-function';
import { COMPLETION_PATH } from '../../shared/contract/routes';

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
  /** Pushes completions that failed every delivery attempt back to the worker, which records them. */
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

/** Ports of the four functions: the given ones, free ones otherwise. */
async function functionPorts(options: LocalStackOptions): Promise<Record<Service, number>> {
  return {
    webhook: options.webhookPort ?? (await freePort()),
    worker: options.workerPort ?? (await freePort()),
    admin: options.adminPort ?? (await freePort()),
    reconciler: await freePort(),
  };
}

/** The environment every local function gets: the emulators, the topics, the secret, loopback only. */
function functionEnv(
  options: LocalStackOptions,
  emulators: Emulators,
  settings: {
    secret: string;
    completionsTopic: string;
    batchEventsTopic: string;
    resultsDir: string;
    webhookPort: number;
    adminPort: number;
  },
): Record<string, string> {
  return {
    ...emulators.env,
    GOOGLE_CLOUD_PROJECT: options.projectId,
    METADATA_SERVER_DETECTION: 'none',
    MODAL_WEBHOOK_SECRET: settings.secret,
    COMPLETIONS_TOPIC: settings.completionsTopic,
    BATCH_EVENTS_TOPIC: settings.batchEventsTopic,
    RESULTS_DIR: settings.resultsDir,
    WEBHOOK_URL: `http://127.0.0.1:${settings.webhookPort}${COMPLETION_PATH}`,
    WEBHOOK_BASE_URL: `http://localhost:${settings.webhookPort}`,
    // The operator page, as a browser on this machine reaches the admin.
    ADMIN_ALLOWED_ORIGINS: `http://localhost:${settings.adminPort},http://127.0.0.1:${settings.adminPort}`,
    STATS_FLUSH_SECONDS: '5',
    // The local functions (the admin API has no authentication here) are not reachable from the network.
    BIND_HOST: '127.0.0.1',
    // Without a Modal status endpoint to poll, the local reconciler runs the webhook-only phase.
    ...(options.env?.MODAL_STATUS_URL ? {} : { COMPLETION_MODE: 'webhook_only' }),
    ...options.env,
  };
}

/** The four functions, each in its own supervised process, once all of them listen. */
async function serveFunctions(
  env: Record<string, string>,
  ports: Record<Service, number>,
  onLog: NonNullable<LocalStackOptions['onLog']>,
  stops: Array<() => Promise<void>>,
): Promise<Record<Service, ServedFunction>> {
  const functions: Record<Service, ServedFunction> = {
    worker: serveFunction('processCompletion', 'cloudevent', ports.worker, env, (line) => onLog('worker', line)),
    webhook: serveFunction('modalWebhook', 'http', ports.webhook, env, (line) => onLog('webhook', line)),
    admin: serveFunction('webhookAdmin', 'http', ports.admin, env, (line) => onLog('admin', line)),
    reconciler: serveFunction('reconcileExecutions', 'cloudevent', ports.reconciler, env, (line) =>
      onLog('reconciler', line),
    ),
  };
  for (const s of Object.values(functions)) stops.push(s.stop);
  await Promise.all(
    (Object.keys(functions) as Service[]).map((name) =>
      waitForPort(ports[name], functions[name].child, functions[name].output),
    ),
  );
  return functions;
}

/** Cloud Scheduler's role: a reconcile tick every `seconds` (none for 0). */
function startTicks(
  pubsub: ReturnType<typeof createPubSub>,
  reconcileTopic: string,
  seconds: number,
  stops: Array<() => Promise<void>>,
): void {
  if (seconds <= 0) return;
  const ticks = createTopicPublisher(pubsub, reconcileTopic, { batchWindowMs: 0 });
  const timer = setInterval(() => {
    ticks.publish(Buffer.from('{"tick":true}'), {}).catch(() => undefined);
  }, seconds * 1000);
  stops.push(async () => clearInterval(timer));
}

/**
 * Production's push, here: a relay in this process pulls the worker's subscription and pushes each
 * message as Pub/Sub would. Started once the worker listens, and stopped before it (stops run in
 * reverse); it reaches Pub/Sub where the functions do (through a fault-injection proxy when one is
 * given).
 */
function startRelay(
  options: LocalStackOptions,
  env: Record<string, string>,
  workerPort: number,
  completionsTopic: string,
  topology: Topology,
  onLog: NonNullable<LocalStackOptions['onLog']>,
): ReturnType<typeof startPushRelay> {
  return startPushRelay({
    endpoint: `http://127.0.0.1:${workerPort}/projects/${options.projectId}/topics/${completionsTopic}`,
    concurrency: options.pushConcurrency ?? 16,
    ackDeadlineSeconds: topology.ackDeadlineSeconds,
    retry: topology.retry,
    connect: () => createPullSource(options.projectId, topology.subscription, env.PUBSUB_EMULATOR_HOST),
    log: (entry) => onLog('relay', JSON.stringify({ ...entry, time: new Date().toISOString() })),
  });
}

export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const { projectId } = options;
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
    const ports = await functionPorts(options);
    const env = functionEnv(options, emulators, {
      secret,
      completionsTopic,
      batchEventsTopic,
      resultsDir,
      webhookPort: ports.webhook,
      adminPort: ports.admin,
    });
    // Google clients pick the emulators up from the environment.
    Object.assign(process.env, { ...emulators.env, METADATA_SERVER_DETECTION: 'none' });
    const onLog = options.onLog ?? (() => undefined);
    const pubsub = createPubSub(projectId);
    const admin = createPubSubAdmin(pubsub);
    stops.push(() => admin.close());
    const topology = await createTopology(admin, options, { completionsTopic, batchEventsTopic }, ports, stops);
    const functions = await serveFunctions(env, ports, onLog, stops);
    const relay = startRelay(options, env, ports.worker, completionsTopic, topology, onLog);
    stops.push(() => relay.close());
    startTicks(pubsub, topology.reconcileTopic, options.reconcileIntervalSeconds ?? 0, stops);
    return {
      projectId,
      secret,
      secretGenerated,
      webhookUrl: `http://127.0.0.1:${ports.webhook}`,
      workerUrl: `http://127.0.0.1:${ports.worker}`,
      adminUrl: `http://127.0.0.1:${ports.admin}`,
      reconcileTopic: topology.reconcileTopic,
      completionMode: env.COMPLETION_MODE ?? 'dual',
      completionsTopic,
      batchEventsTopic,
      batchEventsSubscription: topology.batchEventsSubscription,
      deadLetterSubscription: topology.deadLetterSubscription,
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
