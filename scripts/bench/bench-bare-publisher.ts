/**
 * The bench's production baseline for an acknowledgement: the least this job can be done with the
 * same libraries — the Functions Framework's own parse, an HMAC check of `rawBody`, and the official
 * Pub/Sub client publishing the body with the webhook's settings (its 1 ms batching window and
 * publish deadline, through the same adapter) — then 202. Served in its own process like the webhook.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import * as functions from '@google-cloud/functions-framework';
import { createPubSub, createTopicPublisher } from '../../shared/adapters/pubsub';

const secret = process.env.MODAL_WEBHOOK_SECRET ?? '';
const publisher = createTopicPublisher(createPubSub(process.env.GOOGLE_CLOUD_PROJECT), process.env.COMPLETIONS_TOPIC!, {
  batchWindowMs: 1,
  timeoutMs: 10_000,
});

functions.http('barePublisher', async (req, res) => {
  const body = req.rawBody ?? Buffer.alloc(0);
  const given = Buffer.from(String(req.get('x-modal-signature') ?? '').replace(/^sha256=/, ''), 'hex');
  const expected = createHmac('sha256', secret).update(body).digest();
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    res.status(401).json({ error: 'bad_signature' });
    return;
  }
  const messageId = await publisher.publish(body, { kind: 'completion' });
  res.status(202).json({ status: 'accepted', message_id: messageId });
});
