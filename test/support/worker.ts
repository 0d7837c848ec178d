/** A completion worker on the Firestore emulator, isolated in collections of its own. */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Firestore } from '@google-cloud/firestore';
import { createCompletionWorker, type PubSubMessage } from '../../functions/worker/handler';
import { createFirestoreJobStore } from '../../shared/adapters/firestore';
import { createFirestore } from '../../shared/adapters/firestore-documents';
import { createLocalBlobStore } from '../../shared/adapters/local-files';
import { loadWorkerConfig } from '../../shared/config/config';
import { deliveryId } from '../../shared/contract/delivery';
import { memoryLogger } from '../../shared/observability/log';
import type { BlobStore, Publisher } from '../../shared/ports';
import { encodeCompletion } from '../../shared/contract/messages';
import { completionPayloadSchema } from '../../shared/contract/schemas';

let db: Firestore | undefined;
export function emulatorFirestore(): Firestore {
  db ??= createFirestore(process.env.GOOGLE_CLOUD_PROJECT, '(default)');
  return db;
}

export function recordingPublisher(
  topic = 'batch-events',
): Publisher & { messages: Array<{ data: Buffer; attributes: Record<string, string> }> } {
  const messages: Array<{ data: Buffer; attributes: Record<string, string> }> = [];
  return {
    topic,
    messages,
    async publish(data, attributes) {
      messages.push({ data, attributes });
      return String(messages.length);
    },
  };
}

export function testWorker(
  env: Record<string, string> = {},
  overrides: { results?: BlobStore; clock?: () => Date } = {},
) {
  const suffix = randomBytes(4).toString('hex');

  const resultsDir = mkdtempSync(join(tmpdir(), 'omtx-results-'));
  const config = loadWorkerConfig({
    JOBS_COLLECTION: `jobs_${suffix}`,
    BATCHES_COLLECTION: `batches_${suffix}`,
    PIPELINE_COLLECTION_PREFIX: `p${suffix}_`,
    RESULTS_DIR: resultsDir,
    // Counts written back to the batch document after every completion, so tests can read them at once.
    BATCH_COUNTS_INTERVAL_MS: '0',
    ...env,
  });
  const collections = config.collections;
  const firestore = emulatorFirestore();
  const logger = memoryLogger();
  const batchEvents = recordingPublisher();
  const results = overrides.results ?? createLocalBlobStore(resultsDir);
  const worker = createCompletionWorker({
    config,
    jobs: createFirestoreJobStore(firestore, collections, { counterShards: config.batchCounterShards }),
    results,
    batchEvents,
    clock: overrides.clock ?? (() => new Date()),
    logger,
  });
  return {
    ...worker,
    config,
    logger,
    batchEvents,
    resultsDir,
    results,
    jobs: firestore.collection(collections.jobs),
    batches: firestore.collection(collections.batches),
    deadLetters: firestore.collection(collections.deadLetters),
    executions: firestore.collection(collections.executions),
    collections,
  };
}

let messageCounter = 0;

/** The Pub/Sub message the webhook publishes for `payload`. */
/** A completion message as the webhook publishes it (shared/contract/messages.ts), with `extra` attributes. */
export function completionMessage(payload: Record<string, unknown>, extra: Record<string, string> = {}): PubSubMessage {
  const parsed = completionPayloadSchema.parse(payload);
  const body = Buffer.from(JSON.stringify(payload));
  const { data, attributes } = encodeCompletion(body, parsed, {
    deliveryId: deliveryId(parsed.call_id, parsed.status),
    receivedAt: new Date(),
    source: 'webhook',
  });
  return {
    messageId: String(++messageCounter),
    data: data.toString('base64'),
    attributes: { ...attributes, ...extra },
  };
}

/** A publisher that hands each message straight to `worker` — Pub/Sub push, in-process. */
export function inProcessBus(worker: {
  handleMessage: ReturnType<typeof createCompletionWorker>['handleMessage'];
}): Publisher & { sent: Array<Record<string, string>> } {
  const sent: Array<Record<string, string>> = [];
  return {
    topic: 'in-process',
    sent,
    async publish(data, attributes) {
      sent.push(attributes);
      await worker.handleMessage({ messageId: `m${sent.length}`, data: data.toString('base64'), attributes });
      return String(sent.length);
    },
  };
}

/** A message a producer encoded, as the worker receives it from push (data base64-encoded). */
export function encodedForWorker(message: {
  data: Buffer;
  attributes: Record<string, string>;
}): Pick<PubSubMessage, 'data' | 'attributes'> {
  return { data: message.data.toString('base64'), attributes: message.attributes };
}
