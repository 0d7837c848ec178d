/**
 * The Modal completion webhook (HTTP function `modalWebhook`): verify → validate → publish.
 *
 * Nothing in the body is parsed or trusted before the HMAC signature and timestamp are verified.
 * It answers 202 only after Pub/Sub holds the message, and 503 when publishing fails so that the
 * sender retries. Bodies too large for a Pub/Sub message are stored first (claim check) and the
 * message carries their uri.
 */
import type { Request, Response } from '@google-cloud/functions-framework';
import type { WebhookConfig } from '../../shared/config/config';
import { withDeadline } from '../../shared/platform/deadline';
import { claimPath } from '../../shared/contract/claims';
import { createRecentDeliveries } from './recent-deliveries';
import { deliveryId } from '../../shared/contract/delivery';
import { errorAnswer, HttpError } from '../../shared/platform/errors';
import { traceFields, traceIdOf, type Logger } from '../../shared/observability/log';
import { decodeParsedCompletionBody, encodeCompletion, encodeWebhookStats, unsupportedCharset } from '../../shared/contract/messages';
import { decodeForwardedBody } from '../../shared/contract/forwarded-body';
import type { BlobStore, Clock, Publisher } from '../../shared/ports';
import type { CompletionPayload } from '../../shared/contract/schemas';
import { verifyRequest } from '../../shared/contract/signature';
import type { StatsBuffer } from '../../shared/observability/stats';

export const COMPLETION_PATHS = ['/', '/api/v3/webhooks/modal/completion'];
export const HEALTH_PATHS = ['/health', '/api/v3/webhooks/modal/health'];

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
}

function normalizePath(path: string): string {
  return path.length > 1 ? path.replace(/\/+$/, '') : path;
}

/** How often one instance says that a sender still signs with the previous secret. */
const PREVIOUS_SECRET_WARNING_MS = 10 * 60 * 1000;

export function createWebhookHandler(deps: WebhookDeps) {
  const { config, publisher, claims, clock, logger, stats } = deps;
  let previousSecretWarnedAt = -Infinity;
  // A timestamp is accepted up to the tolerance on either side: a replay can come that long after.
  const recent = createRecentDeliveries(2 * config.toleranceSeconds * 1000);

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
      features: { hmac_verification: true, timestamp_verification: true, background_processing: true, batch_intelligence: true },
    });
  }

  async function accept(req: Request, res: Response, log: Logger, started: number): Promise<void> {
    const rawBody: Buffer = req.rawBody ?? Buffer.alloc(0);
    if (rawBody.length > config.maxBodyBytes) {
      throw new HttpError('payload_too_large', 413, `body is larger than ${config.maxBodyBytes} bytes`);
    }
    const verification = verifyRequest({
      rawBody,
      headers: { get: (name) => req.get(name) },
      secrets: config.secrets,
      schemes: config.signatureSchemes,
      nowSeconds: Math.floor(clock().getTime() / 1000),
      toleranceSeconds: config.toleranceSeconds,
    });
    if (!verification.ok) {
      log.log('WARNING', 'signatureRejected', `webhook rejected: ${verification.reason}`, {
        reason: verification.reason,
        scheme: verification.scheme,
        bytes: rawBody.length,
        user_agent: req.get('user-agent'),
      });
      stats?.count(verification.reason, clock());
      const timing = verification.reason === 'stale_timestamp' || verification.reason === 'future_timestamp';
      res.status(401).json({
        error: verification.reason,
        message: timing
          ? `timestamp outside the ${config.toleranceSeconds} s window (check the sender's clock)`
          : verification.reason === 'scheme_not_allowed'
            ? `this webhook accepts only ${config.signatureSchemes.join(', ')} signatures`
            : verification.reason === 'mixed_schemes'
              ? 'send the headers of one signature scheme, not both'
              : 'webhook signature verification failed',
      });
      return;
    }
    if (verification.secretIndex > 0 && clock().getTime() - previousSecretWarnedAt >= PREVIOUS_SECRET_WARNING_MS) {
      previousSecretWarnedAt = clock().getTime();
      log.log('INFO', 'configWarning', 'webhook signed with the previous secret (said once per 10 minutes per instance)', {});
    }

    if (!req.is('application/json')) {
      throw new HttpError('unsupported_media_type', 415, 'Content-Type must be application/json');
    }
    const charset = unsupportedCharset(req.get('content-type'));
    if (charset) throw new HttpError('unsupported_media_type', 415, `charset ${charset} is not supported; send UTF-8`);
    const payload = parsePayload(rawBody, req.body);
    const ids = {
      ...(verification.webhookId ? { webhook_id: verification.webhookId } : {}),
      call_id: payload.call_id,
      job_id: payload.metadata.job_id,
      batch_id: payload.metadata.batch_id ?? undefined,
      delivery_id: deliveryId(payload.call_id, payload.status),
    };
    const receivedAt = new Date(started);

    if (config.dryRun) {
      log.log('INFO', 'webhookDryRun', 'webhook verified (dry run, not published)', ids);
      res.status(200).json({ status: 'dry_run', delivery_id: ids.delivery_id });
      return;
    }

    // The same signed delivery again (a replay, or a retry whose 202 was lost): Pub/Sub has it already.
    const replayKey = verification.scheme === 'standard' ? `webhook-id ${verification.webhookId ?? ''}` : (req.get('x-modal-signature') ?? '').trim().toLowerCase();
    const earlier = recent.seen(ids.delivery_id, replayKey, clock().getTime());
    if (earlier) {
      log.log('INFO', 'webhookReplayed', 'same signed delivery again: answered with its first message id, not published again', { ...ids, message_id: earlier, scheme: verification.scheme });
      stats?.count('replayed', clock());
      res.status(202).json({ status: 'accepted', delivery_id: ids.delivery_id, message_id: earlier, replay: true });
      return;
    }

    let claimUri: string | undefined;
    if (rawBody.length > config.claimCheckThresholdBytes) {
      // Named by content: a retried or replayed request finds its claim already stored (create-only
      // write, `created: false`) and stores nothing new.
      const path = claimPath(ids.delivery_id, rawBody);
      const stored = await withDeadline(claims.putIfAbsent(path, rawBody, 'application/json'), config.publishTimeoutMs, 'claim-check upload').catch((err: unknown) => {
        throw new HttpError('claim_check_failed', 503, 'could not store the payload; retry later', { cause: String(err) });
      });
      claimUri = stored.uri;
      log.log('INFO', 'claimCheckStored', 'large payload stored for the worker', { ...ids, bytes: rawBody.length });
    }
    const message = encodeCompletion(rawBody, payload, {
      deliveryId: ids.delivery_id,
      receivedAt,
      source: 'webhook',
      secretIndex: verification.secretIndex,
      scheme: verification.scheme,
      claimUri,
      traceId: traceIdOf(req.get('x-cloud-trace-context'), req.get('traceparent')),
    });

    let messageId: string;
    try {
      messageId = await withDeadline(publisher.publish(message.data, message.attributes), config.publishTimeoutMs, 'publish');
    } catch (err) {
      throw new HttpError('publish_failed', 503, 'could not queue the completion; retry later', { cause: String(err) });
    }
    log.log('INFO', 'webhookAccepted', 'webhook accepted', {
      ...ids,
      status: payload.status,
      message_id: messageId,
      bytes: rawBody.length,
      latency_ms: clock().getTime() - started,
    });
    recent.remember(ids.delivery_id, replayKey, messageId, clock().getTime());
    stats?.count('accepted', clock(), verification.scheme);
    res.status(202).json({ status: 'accepted', delivery_id: ids.delivery_id, message_id: messageId });
  }

  return async function modalWebhook(req: Request, res: Response): Promise<void> {
    const started = clock().getTime();
    const path = normalizePath(req.path);
    const log = logger.child({
      path,
      ...traceFields(config.projectId, req.get('x-cloud-trace-context'), req.get('traceparent')),
    });
    try {
      if (HEALTH_PATHS.includes(path)) {
        if (req.method !== 'GET' && req.method !== 'HEAD') throw methodNotAllowed(res, 'GET, HEAD');
        health(res);
        return;
      }
      if (!COMPLETION_PATHS.includes(path)) throw new HttpError('not_found', 404, `no route for ${path}`);
      if (req.method !== 'POST') throw methodNotAllowed(res, 'POST');
      await accept(req, res, log, started);
    } catch (err) {
      const answer = errorAnswer(err, { code: 'publish_failed', status: 500, message: 'internal error' });
      const event = answer.error.code === 'publish_failed' || answer.error.code === 'claim_check_failed' ? 'publishFailed' : 'requestRejected';
      log.log(answer.log.severity, event, answer.error.message, { ...answer.log.fields, method: req.method });
      if (COMPLETION_PATHS.includes(path) && req.method === 'POST') stats?.count(answer.error.code, clock());
      res.status(answer.status).json(answer.body);
    } finally {
      flushStats(log);
    }
  };
}

function methodNotAllowed(res: Response, allow: string): HttpError {
  res.set('Allow', allow);
  return new HttpError('method_not_allowed', 405, `method not allowed; use ${allow}`);
}

/**
 * Decodes a verified body by the worker's own rules (shared/contract/messages.ts), so that what is answered
 * 202 here always parses there: malformed JSON is 400, a payload that breaks the contract 422. The
 * framework's parse of the same bytes is reused when it made one.
 */
function parsePayload(rawBody: Buffer, frameworkParsed: unknown): CompletionPayload {
  const parsedByFramework = frameworkParsed !== undefined && frameworkParsed !== null && typeof frameworkParsed === 'object' && !Buffer.isBuffer(frameworkParsed);
  const verdict = parsedByFramework ? decodeParsedCompletionBody(rawBody, frameworkParsed) : decodeForwardedBody(rawBody);
  if (verdict.ok) return verdict.payload;
  if (verdict.code === 'invalid_json') throw new HttpError('invalid_json', 400, verdict.message);
  throw new HttpError('invalid_payload', 422, verdict.message, { issues: verdict.issues });
}
