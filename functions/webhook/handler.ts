/**
 * The Modal completion webhook (HTTP function `modalWebhook`): verify → validate → publish.
 *
 * Nothing in the body is parsed or trusted before the HMAC signature and timestamp are verified.
 * It answers 202 only after Pub/Sub holds the message, and 503 when publishing fails so that the
 * sender retries. Bodies too large for a Pub/Sub message are stored first (claim check) and the
 * message carries their uri.
 */
import type { IncomingMessage } from 'node:http';
import type { Request, Response } from '@google-cloud/functions-framework';
import type { WebhookConfig } from '../../shared/config/config';
import { claimPath } from '../../shared/contract/claims';
import { encodeCompletion, encodeWebhookStats, unsupportedCharset } from '../../shared/contract/messages';
import { COMPLETION_PATHS, HEALTH_PATHS } from '../../shared/contract/routes';
import type { CompletionPayload } from '../../shared/contract/schemas';
import { verifyRequest } from '../../shared/contract/signature';
import { traceFields, traceIdOf, type Logger } from '../../shared/observability/log';
import type { StatsBuffer } from '../../shared/observability/stats';
import { withDeadline } from '../../shared/platform/deadline';
import { errorAnswer, HttpError } from '../../shared/platform/errors';
import type { BlobStore, Clock, Publisher } from '../../shared/ports';
import { createRecentDeliveries } from './recent-deliveries';
import {
  bodyOf,
  eventOf,
  idsOf,
  methodNotAllowed,
  normalizePath,
  parsePayload,
  rejectionMessage,
  replayKeyOf,
  SHOWN_CHARS,
  type DeliveryIds,
  type Verified,
} from './request';

export interface WebhookDeps {
  config: Readonly<WebhookConfig>;
  publisher: Publisher;
  /** Where claim-checked bodies go (the results bucket). */
  claims: BlobStore;
  clock: Clock;
  logger: Logger;
  version: string;
  /** Counts for the metrics endpoint, sent to the worker over the completions topic. */
  stats?: StatsBuffer;
  /**
   * Whether the body guard (body-guard.ts) let this request through. When given, a request without
   * the guard's mark is refused with 500 and an ERROR line: the guard depends on a hook into the
   * framework's server, and a framework that stopped honouring it must not go unnoticed.
   */
  guarded: (req: IncomingMessage) => boolean;
}

/** How often one instance says that a sender still signs with the previous secret. */
const PREVIOUS_SECRET_WARNING_MS = 10 * 60 * 1000;

/** One request's log, tagged with its trace only once its signature verified (an unsigned header could name any trace). */
interface Attempt {
  log: Logger;
  started: number;
}

export function createWebhookHandler(deps: WebhookDeps) {
  const { config, publisher, claims, clock, logger, stats } = deps;
  let previousSecretWarnedAt = -Infinity;
  // A timestamp is accepted up to the tolerance on either side: a replay can come that long after.
  const recent = createRecentDeliveries(2 * config.toleranceSeconds * 1000);
  const nowMs = () => clock().getTime();

  /** Sends due counters without delaying or failing the request that triggered it. */
  function flushStats(log: Logger): void {
    const due = stats?.takeIfDue(clock());
    if (!due) return;
    const message = encodeWebhookStats(due);
    publisher.publish(message.data, message.attributes).catch((err: unknown) => {
      log.log('WARNING', 'statsPublishFailed', `webhook counters not sent: ${String(err)}`, {});
    });
  }

  /**
   * The public health answer: the seed's shape and nothing more. The topic, revision, tolerance and
   * rotation state are an attacker's map; the private admin's /status tells them to operators.
   */
  function health(res: Response): void {
    const ready = config.secrets.length > 0 && (config.dryRun || config.completionsTopic.length > 0);
    res.status(200).json({
      status: ready ? 'healthy' : 'unhealthy',
      service: 'modal_webhook_handler',
      features: {
        hmac_verification: true,
        timestamp_verification: true,
        background_processing: true,
        batch_intelligence: true,
      },
    });
  }

  /** Step 1: the signature and timestamp over the raw bytes; nothing in the body is read before. */
  function verify(req: Request, rawBody: Buffer): Verified {
    const verification = verifyRequest({
      rawBody,
      headers: { get: (name) => req.get(name) },
      secrets: config.secrets,
      schemes: config.signatureSchemes,
      nowSeconds: Math.floor(nowMs() / 1000),
      toleranceSeconds: config.toleranceSeconds,
    });
    if (!verification.ok) {
      throw new HttpError(verification.reason, 401, rejectionMessage(verification.reason, config), {
        log: {
          reason: verification.reason,
          scheme: verification.scheme,
          bytes: rawBody.length,
          user_agent: req.get('user-agent')?.slice(0, SHOWN_CHARS),
        },
      });
    }
    return verification;
  }

  function warnIfPreviousSecret(verified: Verified, log: Logger): void {
    if (verified.secretIndex === 0 || nowMs() - previousSecretWarnedAt < PREVIOUS_SECRET_WARNING_MS) return;
    previousSecretWarnedAt = nowMs();
    log.log(
      'INFO',
      'configWarning',
      'webhook signed with the previous secret (said once per 10 minutes per instance)',
      {},
    );
  }

  /** Step 2: a verified body decoded by the worker's own rules, so that what is answered 202 here parses there. */
  function decode(req: Request, rawBody: Buffer): CompletionPayload {
    if (!req.is('application/json')) {
      throw new HttpError('unsupported_media_type', 415, 'Content-Type must be application/json');
    }
    const charset = unsupportedCharset(req.get('content-type'));
    if (charset) throw new HttpError('unsupported_media_type', 415, `charset ${charset} is not supported; send UTF-8`);
    return parsePayload(rawBody);
  }

  /** Step 3 (inside the replay check): a body too large for a message is stored first, named by content. */
  async function storeClaim(rawBody: Buffer, ids: DeliveryIds, log: Logger): Promise<string | undefined> {
    if (rawBody.length <= config.claimCheckThresholdBytes) return undefined;
    // Named by content: a retried or replayed request finds its claim already stored (create-only
    // write, `created: false`) and stores nothing new.
    const path = claimPath(ids.delivery_id, rawBody);
    const stored = await withDeadline(
      claims.putIfAbsent(path, rawBody, 'application/json'),
      config.publishTimeoutMs,
      'claim-check upload',
    ).catch((err: unknown) => {
      throw new HttpError('claim_check_failed', 503, 'could not store the payload; retry later', {
        cause: String(err),
      });
    });
    log.log('INFO', 'claimCheckStored', 'large payload stored for the worker', { ...ids, bytes: rawBody.length });
    return stored.uri;
  }

  /** Step 4: the completion queued on Pub/Sub; its message id once Pub/Sub holds it. */
  async function publish(
    req: Request,
    rawBody: Buffer,
    payload: CompletionPayload,
    verified: Verified,
    ids: DeliveryIds,
    attempt: Attempt,
  ): Promise<string> {
    const claimUri = await storeClaim(rawBody, ids, attempt.log);
    const message = encodeCompletion(rawBody, payload, {
      deliveryId: ids.delivery_id,
      receivedAt: new Date(attempt.started),
      source: 'webhook',
      secretIndex: verified.secretIndex,
      scheme: verified.scheme,
      claimUri,
      traceId: traceIdOf(req.get('x-cloud-trace-context'), req.get('traceparent')),
    });
    try {
      return await withDeadline(
        publisher.publish(message.data, message.attributes),
        config.publishTimeoutMs,
        'publish',
      );
    } catch (err) {
      throw new HttpError('publish_failed', 503, 'could not queue the completion; retry later', { cause: String(err) });
    }
  }

  async function accept(req: Request, res: Response, attempt: Attempt): Promise<void> {
    const rawBody = bodyOf(req, config.maxBodyBytes);
    const verified = verify(req, rawBody);
    attempt.log = attempt.log.child(
      traceFields(config.projectId, req.get('x-cloud-trace-context'), req.get('traceparent')),
    );
    warnIfPreviousSecret(verified, attempt.log);
    const payload = decode(req, rawBody);
    const ids = idsOf(payload, verified);
    if (config.dryRun) {
      attempt.log.log('INFO', 'webhookDryRun', 'webhook verified (dry run, not published)', ids);
      res.status(200).json({ status: 'dry_run', delivery_id: ids.delivery_id });
      return;
    }
    // The same signed delivery again (a replay, a retry whose 202 was lost, or a concurrent copy):
    // it is published once, and every copy is answered with that message id.
    const { messageId, replay } = await recent.publishOnce(ids.delivery_id, replayKeyOf(req, verified), nowMs, () =>
      publish(req, rawBody, payload, verified, ids, attempt),
    );
    if (replay) {
      attempt.log.log(
        'INFO',
        'webhookReplayed',
        'same signed delivery again: answered with its first message id, not published again',
        { ...ids, message_id: messageId, scheme: verified.scheme },
      );
      stats?.count('replayed', clock());
      res.status(202).json({ status: 'accepted', delivery_id: ids.delivery_id, message_id: messageId, replay: true });
      return;
    }
    attempt.log.log('INFO', 'webhookAccepted', 'webhook accepted', {
      ...ids,
      status: payload.status,
      message_id: messageId,
      bytes: rawBody.length,
      latency_ms: nowMs() - attempt.started,
    });
    stats?.count('accepted', clock(), verified.scheme);
    res.status(202).json({ status: 'accepted', delivery_id: ids.delivery_id, message_id: messageId });
  }

  /** Routes a request: health, the completion endpoint, or a refusal. */
  async function route(req: Request, res: Response, path: string, attempt: Attempt): Promise<void> {
    if (HEALTH_PATHS.includes(path)) {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw methodNotAllowed(res, 'GET, HEAD');
      health(res);
      return;
    }
    if (!COMPLETION_PATHS.includes(path))
      throw new HttpError('not_found', 404, `no route for ${path.slice(0, SHOWN_CHARS)}`);
    if (req.method !== 'POST') throw methodNotAllowed(res, 'POST');
    if (!deps.guarded(req)) {
      throw new HttpError('body_guard_missing', 500, 'internal error', {
        cause:
          'the request reached the webhook without passing its body guard: the Functions Framework server was not hooked (docs/framework-seam.md); refusing every completion until it is',
      });
    }
    await accept(req, res, attempt);
  }

  return async function modalWebhook(req: Request, res: Response): Promise<void> {
    const path = normalizePath(req.path);
    const attempt: Attempt = { log: logger.child({ path: path.slice(0, SHOWN_CHARS) }), started: nowMs() };
    try {
      await route(req, res, path, attempt);
    } catch (err) {
      const answer = errorAnswer(err, { code: 'internal_error', status: 500, message: 'internal error' });
      attempt.log.log(answer.log.severity, eventOf(answer.error.code), answer.error.message, {
        ...answer.log.fields,
        method: req.method,
      });
      if (COMPLETION_PATHS.includes(path) && req.method === 'POST') stats?.count(answer.error.code, clock());
      res.status(answer.status).json(answer.body);
    } finally {
      flushStats(attempt.log);
    }
  };
}
