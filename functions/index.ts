/**
 * Entry points, wiring only: each deployed function is built from its configuration and adapters
 * and registered with the Functions Framework. Configuration is parsed here, at cold start, so a
 * bad value stops the instance with the variable's name before any request is served.
 *
 * All functions ship in one source archive; `FUNCTION_TARGET` (set by Cloud Functions) says which
 * one this instance serves, so each parses only its own configuration. Without it, all are built.
 */
import * as functions from '@google-cloud/functions-framework';
import { createFirestoreJobStore } from '../shared/adapters/firestore';
import { createFirestore } from '../shared/adapters/firestore-documents';
import { createFirestoreAdminStore } from '../shared/adapters/firestore-admin';
import { createPubSub, createTopicProbe, createTopicPublisher } from '../shared/adapters/pubsub';
import { createResultStore } from '../shared/adapters/results';
import {
  loadAdminConfig,
  loadReconcilerConfig,
  loadServerOptions,
  loadWebhookConfig,
  loadWorkerConfig,
} from '../shared/config/config';
import { replaceRequestDomains } from '../shared/platform/domain';
import { hookNextServer, type RequestGuard } from '../shared/platform/server-hook';
import { createBodyGuard } from './webhook/body-guard';
import { createPushReader } from './worker/push-reader';
import { filterBodyParserErrors } from '../shared/platform/framework-errors';
import { createLogger, type Logger } from '../shared/observability/log';
import { createWebhookHandler } from './webhook/handler';
import { createCompletionWorker } from './worker/handler';
import { createAdminHandler } from './admin/handler';
import { createReconciler } from './reconciler/handler';
import { serviceVersion } from '../shared/platform/version';
import { createStatsBuffer } from '../shared/observability/stats';

type Env = Record<string, string | undefined>;

function announce(logger: Logger, target: string, warnings: readonly string[], version: string): void {
  logger.log('INFO', 'configLoaded', `${target} configured`, { target, version });
  for (const warning of warnings) logger.log('WARNING', 'configWarning', warning, { target });
}

/** The webhook's handler, and the guard that reads its bodies before the framework can (docs/request-bodies.md). */
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
    claims: createResultStore(config.results, config.projectId),
    clock,
    logger,
    version: serviceVersion(env),
    stats,
    // An instance serving the webhook alone reads every body through the guard (register below);
    // one that serves every function (no FUNCTION_TARGET) does not, and requires no mark.
    ...(env.FUNCTION_TARGET === 'modalWebhook' ? { guarded: guard.passed, bodyLease: guard.lease } : {}),
  });
  return { handler, guard };
}

export function buildWorker(env: Env, logger: Logger = createLogger(), pushedData?: () => Buffer | undefined) {
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
    ...(pushedData ? { pushedData } : {}),
  });
}

export function buildAdmin(env: Env, logger: Logger = createLogger()) {
  const config = loadAdminConfig(env);
  announce(logger, 'webhookAdmin', config.warnings, serviceVersion(env));
  const pubsub = createPubSub(config.projectId);
  return createAdminHandler({
    config,
    store: createFirestoreAdminStore(createFirestore(config.projectId, config.firestoreDatabase), config.collections),
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
 * Registers the functions this instance serves with the Functions Framework (all of them without
 * FUNCTION_TARGET), gives the framework request scopes for its domains, and keeps the framework's
 * body-parser errors out of the logs. The only code that runs when the Functions Framework loads
 * this file. An instance serving the webhook hooks the server the framework is about to create, so
 * that bodies are read by the webhook's guard first.
 */
export function register(env: Env, console: Pick<Console, 'error'>): void {
  const target = env.FUNCTION_TARGET;
  // Before the first request: the framework's per-request domains without the async hook a domain
  // turns on for the whole process (shared/platform/domain.ts).
  replaceRequestDomains();
  filterBodyParserErrors(console, createLogger());
  const server = loadServerOptions(env);
  const wants = (name: string) => !target || target === name;
  let guard: RequestGuard | undefined;
  if (wants('modalWebhook')) {
    const webhook = buildWebhook(env);
    functions.http('modalWebhook', webhook.handler);
    // Only an instance that serves the webhook alone: the guard would read other functions' bodies too.
    if (target === 'modalWebhook') guard = webhook.guard;
  }
  if (wants('processCompletion')) {
    // Only an instance that serves the worker alone reads push bodies itself (push-reader.ts).
    const logger = createLogger();
    const reader = target === 'processCompletion' ? createPushReader(logger) : undefined;
    const worker = buildWorker(env, logger, reader?.pushedData);
    functions.cloudEvent('processCompletion', worker.processCompletion);
    if (reader) guard = reader.guard;
  }
  if (wants('webhookAdmin')) functions.http('webhookAdmin', buildAdmin(env));
  if (wants('reconcileExecutions'))
    functions.cloudEvent('reconcileExecutions', buildReconciler(env).reconcileExecutions);
  hookNextServer({ ...(guard ? { guard } : {}), ...(server.bindHost ? { host: server.bindHost } : {}) });
}

register(process.env, console);
