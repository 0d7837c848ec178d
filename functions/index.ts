/**
 * Entry points, wiring only: each deployed function is built from its configuration and adapters
 * and registered with the Functions Framework. Configuration is parsed here, at cold start, so a
 * bad value stops the instance with the variable's name before any request is served.
 *
 * Both functions ship in one source archive; `FUNCTION_TARGET` (set by Cloud Functions) says which
 * one this instance serves, so each parses only its own configuration. Without it, both are built.
 */
import * as functions from '@google-cloud/functions-framework';
import { createFirestore, createFirestoreJobStore } from '../shared/adapters/firestore';
import { createPubSub, createTopicPublisher } from '../shared/adapters/pubsub';
import { createResultStore } from '../shared/adapters/results';
import { loadWebhookConfig, loadWorkerConfig } from '../shared/config';
import { filterBodyParserErrors } from '../shared/framework-errors';
import { createLogger, type Logger } from '../shared/log';
import { createWebhookHandler } from './webhook/handler';
import { createCompletionWorker } from './worker/handler';
import { VERSION } from '../shared/version';

type Env = Record<string, string | undefined>;

function announce(logger: Logger, target: string, warnings: readonly string[]): void {
  logger.log('INFO', 'configLoaded', `${target} configured`, { target, version: VERSION });
  for (const warning of warnings) logger.log('WARNING', 'configWarning', warning, { target });
}

export function buildWebhook(env: Env, logger: Logger = createLogger()) {
  const config = loadWebhookConfig(env);
  announce(logger, 'modalWebhook', config.warnings);
  const pubsub = createPubSub(config.projectId);
  return createWebhookHandler({
    config,
    publisher: createTopicPublisher(pubsub, config.completionsTopic, { batchWindowMs: config.publishBatchWindowMs }),
    claims: createResultStore(config.results, config.projectId),
    clock: () => new Date(),
    logger,
    version: VERSION,
  });
}

export function buildWorker(env: Env, logger: Logger = createLogger()) {
  const config = loadWorkerConfig(env);
  announce(logger, 'processCompletion', config.warnings);
  const db = createFirestore(config.projectId, config.firestoreDatabase);
  return createCompletionWorker({
    config,
    jobs: createFirestoreJobStore(db, {
      jobs: config.jobsCollection,
      batches: config.batchesCollection,
      deadLetters: config.deadLettersCollection,
    }),
    results: createResultStore(config.results, config.projectId),
    batchEvents: config.batchEventsTopic
      ? createTopicPublisher(createPubSub(config.projectId), config.batchEventsTopic, { batchWindowMs: 0 })
      : undefined,
    clock: () => new Date(),
    logger,
  });
}

const target = process.env.FUNCTION_TARGET;
filterBodyParserErrors(console, createLogger());
const wants = (name: string) => !target || target === name;

if (wants('modalWebhook')) functions.http('modalWebhook', buildWebhook(process.env));
if (wants('processCompletion')) functions.cloudEvent('processCompletion', buildWorker(process.env).processCompletion);
