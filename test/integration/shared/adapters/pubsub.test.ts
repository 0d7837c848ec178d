/** The webhook with the real Pub/Sub publisher on the emulator: what lands on the topic, and 503 when it cannot. */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PubSub } from '@google-cloud/pubsub';
import { createLocalBlobStore } from '../../../../shared/adapters/local-files';
import { createTopicPublisher } from '../../../../shared/adapters/pubsub';
import { loadWebhookConfig } from '../../../../shared/config/config';
import { memoryLogger } from '../../../../shared/observability/log';
import { fixture } from '../../../support/fixtures';
import { postSigned, type Served } from '../../../support/http';
import { serveWebhook } from '../../../support/webhook';

jest.setTimeout(60_000);
const SECRET = 'whsec_cHVic3ViLXRlc3Qta2V5a2tra2tra2tra2tra2tra2s=';

let pubsub: PubSub;
beforeAll(() => {
  pubsub = new PubSub({ projectId: process.env.GOOGLE_CLOUD_PROJECT });
});
afterAll(async () => {
  await pubsub.close();
});

async function webhookOn(topic: string): Promise<Served> {
  const config = loadWebhookConfig({ MODAL_WEBHOOK_SECRET: SECRET, COMPLETIONS_TOPIC: topic });
  const dir = mkdtempSync(join(tmpdir(), 'omtx-claims-'));
  return serveWebhook({
    config,
    publisher: createTopicPublisher(pubsub, topic, { batchWindowMs: 0 }),
    claims: createLocalBlobStore(dir),
    clock: () => new Date(),
    logger: memoryLogger(),
    version: 'test',
  });
}

it('publishes the verified raw body with versioned attributes, once Pub/Sub has it', async () => {
  const topic = `it-completions-${randomBytes(3).toString('hex')}`;
  await pubsub.createTopic(topic);
  const [subscription] = await pubsub.topic(topic).createSubscription(`${topic}-pull`);
  const served = await webhookOn(topic);
  try {
    const body = JSON.stringify(fixture('seed-success'));
    const res = await postSigned(served.url, body, { secret: SECRET });
    expect(res.status).toBe(202);
    const received = await new Promise<{ data: Buffer; attributes: Record<string, string>; id: string }>(
      (resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no message')), 20_000);
        subscription.on('message', (m) => {
          clearTimeout(timer);
          m.ack();
          resolve({ data: m.data, attributes: m.attributes, id: m.id });
        });
      },
    );
    await subscription.close();
    expect(received.id).toBe(res.json.message_id);
    expect(received.data.toString()).toBe(body);
    expect(received.attributes).toMatchObject({
      schema_version: '1',
      kind: 'completion',
      call_id: 'call-123456789',
      job_id: 'job-abc123',
      batch_id: 'batch-xyz789',
      status: 'success',
      delivery_id: res.json.delivery_id,
    });
  } finally {
    await served.close();
  }
});

it('answers 503 when the topic does not exist, so that the sender retries', async () => {
  const served = await webhookOn(`missing-topic-${randomBytes(3).toString('hex')}`);
  try {
    const res = await postSigned(served.url, JSON.stringify(fixture('seed-success')), { secret: SECRET });
    expect(res).toMatchObject({ status: 503, json: { error: 'publish_failed' } });
  } finally {
    await served.close();
  }
});
