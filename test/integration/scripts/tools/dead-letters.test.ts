/** `npm run dead-letters`: list and replay from the dead-letter subscription and the dead_letters collection. */
import { randomBytes } from 'node:crypto';
import { PubSub } from '@google-cloud/pubsub';
import { listDeadLetters, replayDeadLetters, type DeadLetterDeps } from '../../../../scripts/tools/dead-letters';
import { createDeadLetterSources } from '../../../../shared/adapters/dead-letters';
import { createTopicPublisher } from '../../../../shared/adapters/pubsub';
import { completionMessage, emulatorFirestore, testWorker } from '../../../support/worker';
import { successPayload } from '../../../support/fixtures';

jest.setTimeout(60_000);

it('lists both sources with reasons, replays only with --execute, and takes replayed ones off the list', async () => {
  const projectId = process.env.GOOGLE_CLOUD_PROJECT!;
  const pubsub = new PubSub({ projectId });
  const run = randomBytes(3).toString('hex');
  const [completions] = await pubsub.createTopic(`dl-completions-${run}`);
  const [replayed] = await completions.createSubscription(`dl-completions-${run}-check`);
  const [dlq] = await pubsub.createTopic(`dl-dead-${run}`);
  await dlq.createSubscription(`dl-dead-${run}-hold`);

  // One completion that failed every delivery, and one poison message the worker recorded.
  const failed = completionMessage(successPayload({ call_id: 'call-dl', job_id: 'job-dl' }));
  await dlq.publishMessage({ data: Buffer.from(failed.data!, 'base64'), attributes: failed.attributes });
  const w = testWorker();
  const poison = completionMessage(successPayload({ call_id: 'call-poison', job_id: 'job-poison' }));
  await w.handleMessage({ ...poison, messageId: `poison-${run}`, data: Buffer.from('{"call_id":').toString('base64') });

  const deps: DeadLetterDeps = {
    sources: createDeadLetterSources(pubsub, emulatorFirestore(), {
      projectId,
      subscription: `dl-dead-${run}-hold`,
      collection: w.collections.deadLetters,
    }),
    completions: createTopicPublisher(pubsub, completions.name.split('/').pop()!, { batchWindowMs: 0 }),
    clock: () => new Date(),
  };
  const listing = await listDeadLetters(deps);
  await listing.release();
  expect(listing.entries.map((e) => [e.source, e.attributes.call_id])).toEqual([
    ['subscription', 'call-dl'],
    ['collection', 'call-poison'],
  ]);
  expect(listing.entries[1]!.reason).toMatch(/^invalid_json: /);

  const dry = await replayDeadLetters(deps, { all: true }, false);
  expect(dry).toMatchObject({ dryRun: true, replayed: [expect.stringMatching(/^sub:/), `doc:msg_poison-${run}`] });
  const again = await listDeadLetters(deps);
  await again.release();
  expect(again.entries).toHaveLength(2);

  const subId = listing.entries[0]!.id;
  const done = await replayDeadLetters(deps, { ids: [subId, 'doc:nope'] }, true);
  expect(done).toMatchObject({ dryRun: false, replayed: [subId], skipped: [{ id: 'doc:nope', why: 'not found' }] });
  const received = await new Promise<{ attributes: Record<string, string>; data: string }>((resolve) => {
    replayed.on('message', (m) => {
      m.ack();
      resolve({ attributes: m.attributes, data: m.data.toString() });
    });
  });
  await replayed.close();
  expect(received.attributes).toMatchObject({ call_id: 'call-dl', source: 'replay', replayed_from: subId });
  expect(JSON.parse(received.data).metadata.job_id).toBe('job-dl');
  const after = await listDeadLetters(deps);
  await after.release();
  expect(after.entries.map((e) => e.source)).toEqual(['collection']);
  await pubsub.close();
});
