/**
 * `npm run dead-letters` through the admin API (the one replay path): list with reasons, a dry run
 * that publishes nothing, a replay that sends the completion back as it was and marks it, and a
 * second replay refused.
 */
import { randomBytes } from 'node:crypto';
import { PubSub, type Message } from '@google-cloud/pubsub';
import { createAdminHandler } from '../../../../functions/admin/handler';
import { createFirestoreAdminStore } from '../../../../shared/adapters/firestore-admin';
import { createFirestoreOperatorStore } from '../../../../shared/adapters/firestore-operator';
import { createTopicPublisher } from '../../../../shared/adapters/pubsub';
import { loadAdminConfig } from '../../../../shared/config/config';
import { memoryLogger } from '../../../../shared/observability/log';
import { listDeadLetters, replayDeadLetters } from '../../../../scripts/tools/dead-letters';
import { createAdminClient } from '../../../../scripts/tools/admin-client';
import { successPayload } from '../../../support/fixtures';
import { serveHttp } from '../../../support/http';
import { until } from '../../../support/until';
import { completionMessage, emulatorFirestore, testWorker } from '../../../support/worker';

jest.setTimeout(60_000);

it('lists with reasons, replays only with --execute, sends the completion back as it was, and only once', async () => {
  const projectId = process.env.GOOGLE_CLOUD_PROJECT!;
  const pubsub = new PubSub({ projectId });
  const run = randomBytes(3).toString('hex');
  const [completions] = await pubsub.createTopic(`dl-completions-${run}`);
  const [check] = await completions.createSubscription(`dl-completions-${run}-check`);
  const received: Message[] = [];
  check.on('message', (m: Message) => {
    m.ack();
    received.push(m);
  });

  // A completion Pub/Sub gave up on (as the mirror brings it), and a poison message.
  const w = testWorker();
  const failed = completionMessage(successPayload({ call_id: 'call-dl', job_id: 'job-dl' }));
  await w.handleMessage({
    ...failed,
    messageId: `dead-${run}`,
    attributes: {
      ...failed.attributes,
      CloudPubSubDeadLetterSourceSubscription: 's',
      CloudPubSubDeadLetterSourceDeliveryCount: '10',
    },
  });
  const poison = completionMessage(successPayload({ call_id: 'call-poison', job_id: 'job-poison' }));
  await w.handleMessage({ ...poison, messageId: `poison-${run}`, data: Buffer.from('{"call_id":').toString('base64') });

  const config = loadAdminConfig({
    MODAL_WEBHOOK_SECRET: 'dead-letters-test-secret-0123456789',
    JOBS_COLLECTION: w.collections.jobs,
    BATCHES_COLLECTION: w.collections.batches,
    PIPELINE_COLLECTION_PREFIX: w.collections.executions.replace(/executions$/, ''),
  });
  const db = emulatorFirestore();
  const admin = await serveHttp(
    createAdminHandler({
      config,
      store: createFirestoreAdminStore(db, config.collections),
      operator: createFirestoreOperatorStore(db, config.collections),
      completions: createTopicPublisher(pubsub, completions.name.split('/').pop()!, { batchWindowMs: 0 }),
      topicReachable: async () => true,
      fetch,
      clock: () => new Date(),
      logger: memoryLogger(),
      version: 'test',
    }),
  );
  try {
    const client = createAdminClient(admin.url, undefined);
    const listed = await listDeadLetters(client, 100);
    expect(listed.map((d) => [d.call_id, d.code])).toEqual([
      ['call-poison', 'invalid_json'],
      ['call-dl', 'delivery_attempts_exhausted'],
    ]);
    const dead = listed[1]!;
    expect(dead).toMatchObject({ attempts: 10, replayable: true, replayed: false });

    const dry = await replayDeadLetters(client, { all: true }, false);
    expect(dry).toEqual({ dryRun: true, replayed: listed.map((d) => d.id), skipped: [] });

    const done = await replayDeadLetters(client, { ids: [dead.id, 'nope'] }, true);
    expect(done).toEqual({
      dryRun: false,
      replayed: [dead.id],
      skipped: [{ id: 'nope', reason: 'no such dead letter' }],
    });
    const [message] = await until('the replayed completion on the topic', async () =>
      received.length ? received : undefined,
    );
    expect(received).toHaveLength(1);
    expect(message!.attributes).toMatchObject({ call_id: 'call-dl', source: 'replay', replayed_from: dead.id });
    expect(Object.keys(message!.attributes).filter((k) => k.startsWith('CloudPubSub'))).toEqual([]);
    expect(JSON.parse(message!.data.toString()).metadata.job_id).toBe('job-dl');

    expect((await listDeadLetters(client, 100)).find((d) => d.id === dead.id)).toMatchObject({ replayed: true });
    const again = await replayDeadLetters(client, { ids: [dead.id] }, true);
    expect(again.skipped).toEqual([{ id: dead.id, reason: expect.stringMatching(/^already replayed at /) }]);
  } finally {
    await admin.close();
    await check.close();
    await pubsub.close();
  }
});
