/**
 * Entry points, wiring only: each deployed function is built from its configuration and adapters
 * and registered with the Functions Framework. Configuration is parsed here, at cold start, so a
 * bad value stops the instance with the variable's name before any request is served.
 *
 * All functions ship in one source archive; `FUNCTION_TARGET` (set by Cloud Functions, and by
 * `npm start`) says which one this instance serves, so each parses only its own configuration.
 */
import * as functions from '@google-cloud/functions-framework';
import { createFirestoreJobStore } from '../shared/adapters/firestore';
import { createFirestore } from '../shared/adapters/firestore-documents';
import { join } from 'node:path';
import { createFirestoreAdminStore } from '../shared/adapters/firestore-admin';
import { createFirestoreOperatorStore } from '../shared/adapters/firestore-operator';
import { createPubSub, createTopicProbe, createTopicPublisher } from '../shared/adapters/pubsub';
import { createResultStore } from '../shared/adapters/results';
import {
  loadAdminConfig,
  loadReconcilerConfig,
  loadServerOptions,
  loadWebhookConfig,
  loadWorkerConfig,
} from '../shared/config/config';
import { createBodyGuard } from '../shared/framework/body-guard';
import { installFrameworkSeam } from '../shared/framework/install';
import type { RequestGuard } from '../shared/framework/server-hook';
import { createLogger, type Logger } from '../shared/observability/log';
import { createWebhookHandler } from './webhook/handler';
import { createCompletionWorker } from './worker/handler';
import { createAdminHandler } from './admin/handler';
import { loadPageAssets } from './admin/page-assets';
import { createReconciler } from './reconciler/handler';
import { serviceVersion } from '../shared/platform/version';
import { createStatsBuffer } from '../shared/observability/stats';

type Env = Record<string, string | undefined>;

function announce(logger: Logger, target: string, warnings: readonly string[], version: string): void {
  logger.log('INFO', 'configLoaded', `${target} configured`, { target, version });
  for (const warning of warnings) logger.log('WARNING', 'configWarning', warning, { target });
}

/** The webhook's handler, and the guard that reads its bodies before the framework can (docs/framework-seam.md). */
export function buildWebhook(env: Env, logger: Logger = createLogger()) {
  const config = loadWebhookConfig(env);
  announce(logger, 'modalWebhook', config.warnings, serviceVersion(env));
  const pubsub = createPubSub(config.projectId);
  const clock = () => new Date();
  // A dry run publishes nothing, counters included.
  const stats = config.dryRun ? undefined : createStatsBuffer(config.statsFlushMs);
  const guard = createBodyGuard({
    limits: { maxBodyBytes: config.maxBodyBytes, ...config.body },
    logger,
    clock,
    stats,
  });
  const handler = createWebhookHandler({
    config,
    publisher: createTopicPublisher(pubsub, config.completionsTopic, {
      batchWindowMs: config.publishBatchWindowMs,
      timeoutMs: config.publishTimeoutMs,
    }),
    // A claim-check upload gives up with the publish deadline, retries included: a stalled store
    // cannot keep a body (and its share of the byte budget) for the client's default 600 s.
    claims: createResultStore(config.results, config.projectId, {
      requestTimeoutMs: config.publishTimeoutMs,
      totalTimeoutMs: config.publishTimeoutMs,
    }),
    clock,
    logger,
    version: serviceVersion(env),
    stats,
    bodies: guard,
  });
  return { handler, guard };
}

export function buildWorker(env: Env, logger: Logger = createLogger()) {
  const config = loadWorkerConfig(env);
  announce(logger, 'processCompletion', config.warnings, serviceVersion(env));
  const db = createFirestore(config.projectId, config.firestoreDatabase);
  return createCompletionWorker({
    config,
    jobs: createFirestoreJobStore(db, config.collections, { counterShards: config.batchCounterShards }),
    results: createResultStore(config.results, config.projectId),
    batchEvents: config.batchEventsTopic
      ? createTopicPublisher(createPubSub(config.projectId), config.batchEventsTopic, { batchWindowMs: 0 })
      : undefined,
    clock: () => new Date(),
    logger,
  });
}

export function buildAdmin(env: Env, logger: Logger = createLogger()) {
  const config = loadAdminConfig(env);
  announce(logger, 'webhookAdmin', config.warnings, serviceVersion(env));
  const pubsub = createPubSub(config.projectId);
  const db = createFirestore(config.projectId, config.firestoreDatabase);
  return createAdminHandler({
    config,
    store: createFirestoreAdminStore(db, config.collections),
    operator: createFirestoreOperatorStore(db, config.collections),
    // Built next to this file (dist/functions/admin/page) by `npm run build`.
    page: loadPageAssets(join(__dirname, 'admin', 'page')),
    completions: createTopicPublisher(pubsub, config.completionsTopic, { batchWindowMs: 0 }),
    topicReachable: createTopicProbe(pubsub, config.completionsTopic),
    fetch,
    clock: () => new Date(),
    logger,
    version: serviceVersion(env),
  });
}

export function buildReconciler(env: Env, logger: Logger = createLogger()) {
  const config = loadReconcilerConfig(env);
  announce(logger, 'reconcileExecutions', config.warnings, serviceVersion(env));
  return createReconciler({
    config,
    store: createFirestoreAdminStore(createFirestore(config.projectId, config.firestoreDatabase), config.collections),
    completions: createTopicPublisher(createPubSub(config.projectId), config.completionsTopic, { batchWindowMs: 0 }),
    fetch,
    clock: () => new Date(),
    logger,
  });
}

/**
 * Registers the function this instance serves with the Functions Framework, then installs the seam
 * (shared/framework/): on the webhook's instance, its body guard reads every request before the
 * framework's parsers. The only code that runs when the Functions Framework loads this file.
 */
export function register(env: Env, console: Pick<Console, 'error'>): void {
  const { target, bindHost } = loadServerOptions(env);
  const logger = createLogger();
  let guard: RequestGuard | undefined;
  switch (target) {
    case 'modalWebhook': {
      const webhook = buildWebhook(env, logger);
      functions.http(target, webhook.handler);
      guard = webhook.guard;
      break;
    }
    case 'processCompletion':
      functions.cloudEvent(target, buildWorker(env, logger).processCompletion);
      break;
    case 'webhookAdmin':
      functions.http(target, buildAdmin(env, logger));
      break;
    case 'reconcileExecutions':
      functions.cloudEvent(target, buildReconciler(env, logger).reconcileExecutions);
      break;
  }
  installFrameworkSeam({ ...(guard ? { guard } : {}), ...(bindHost ? { host: bindHost } : {}), console, logger });
}

register(process.env, console);
