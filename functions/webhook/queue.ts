/**
 * The webhook's last step: a verified completion queued on Pub/Sub. A body too large for a message
 * is stored first (claim check), named by its content, and the message carries its uri. Each step
 * has the publish deadline: past it, the sender gets 503 and retries.
 */
import type { WebhookConfig } from '../../shared/config/config';
import { claimPath } from '../../shared/contract/claims';
import { encodeCompletion } from '../../shared/contract/messages';
import type { CompletionPayload } from '../../shared/contract/schemas';
import type { Logger } from '../../shared/observability/log';
import { withDeadline } from '../../shared/platform/deadline';
import { HttpError } from '../../shared/platform/errors';
import type { BlobStore, Publisher } from '../../shared/ports';
import type { DeliveryIds, Verified } from './request';

export interface QueueDeps {
  config: Readonly<WebhookConfig>;
  publisher: Publisher;
  /** Where claim-checked bodies go (the results bucket). */
  claims: BlobStore;
}

/** What the request adds to the message besides its body. */
export interface Received {
  receivedAt: Date;
  traceId: string | undefined;
  log: Logger;
  /** Keeps the body counted in the edge's byte budget until `until` settles (it may outlive the answer). */
  holdBody: (until: Promise<unknown>) => void;
}

export function createCompletionQueue({ config, publisher, claims }: QueueDeps) {
  /** A body too large for a message is stored first; its uri. */
  async function storeClaim(rawBody: Buffer, ids: DeliveryIds, received: Received): Promise<string> {
    // Named by content: a retried or replayed request finds its claim already stored (create-only
    // write, `created: false`) and stores nothing new.
    const path = claimPath(ids.delivery_id, rawBody);
    const storing = claims.putIfAbsent(path, rawBody, 'application/json');
    received.holdBody(storing);
    const stored = await withDeadline(storing, config.publishTimeoutMs, 'claim-check upload').catch((err: unknown) => {
      throw new HttpError('claim_check_failed', 503, 'could not store the payload; retry later', {
        cause: String(err),
      });
    });
    received.log.log('INFO', 'claimCheckStored', 'large payload stored for the worker', {
      ...ids,
      bytes: rawBody.length,
    });
    return stored.uri;
  }

  /** The completion queued on Pub/Sub; its message id once Pub/Sub holds it. */
  return async function queue(
    rawBody: Buffer,
    payload: CompletionPayload,
    verified: Verified,
    ids: DeliveryIds,
    received: Received,
  ): Promise<string> {
    const claimUri =
      rawBody.length > config.claimCheckThresholdBytes ? await storeClaim(rawBody, ids, received) : undefined;
    const message = encodeCompletion(rawBody, payload, {
      deliveryId: ids.delivery_id,
      receivedAt: received.receivedAt,
      source: 'webhook',
      secretIndex: verified.secretIndex,
      scheme: verified.scheme,
      claimUri,
      traceId: received.traceId,
    });
    // The client holds the data until the publish settles, which may be after the deadline.
    const publishing = publisher.publish(message.data, message.attributes);
    received.holdBody(publishing);
    try {
      return await withDeadline(publishing, config.publishTimeoutMs, 'publish');
    } catch (err) {
      throw new HttpError('publish_failed', 503, 'could not queue the completion; retry later', { cause: String(err) });
    }
  };
}
