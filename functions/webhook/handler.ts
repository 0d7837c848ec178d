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
import { encodeWebhookStats } from '../../shared/contract/messages';
import { COMPLETION_PATHS, HEALTH_PATHS } from '../../shared/contract/routes';
import { traceFields, traceIdOf, type Logger } from '../../shared/observability/log';
import type { StatsBuffer } from '../../shared/observability/stats';
import { errorAnswer, HttpError } from '../../shared/platform/errors';
import type { GuardedBodies } from '../../shared/framework/body-guard';
import type { BlobStore, Clock, Publisher } from '../../shared/ports';
import { createCompletionQueue } from './queue';
import { createRecentDeliveries } from './recent-deliveries';
import {
  bodyOf,
  decodeCompletion,
  eventOf,
  healthAnswer,
  idsOf,
  methodNotAllowed,
  normalizePath,
  replayKeyOf,
  SHOWN_CHARS,
  verifySignature,
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
   * The body guard's side of a request (shared/framework/body-guard.ts): a request it did not let
   * through is refused with 500 and an ERROR line (the guard depends on a hook into the framework's
   * server, and a framework that stopped honouring it must not go unnoticed); and a body an upload
   * or publish still holds after the answer stays counted in its byte budget until they settle.
   */
  bodies: GuardedBodies;
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
  const queue = createCompletionQueue({ config, publisher, claims });

  /** Sends due counters without delaying or failing the request that triggered it. */
  function flushStats(log: Logger): void {
    const due = stats?.takeIfDue(clock());
    if (!due) return;
    const message = encodeWebhookStats(due);
    publisher.publish(message.data, message.attributes).catch((err: unknown) => {
      log.log('WARNING', 'statsPublishFailed', `webhook counters not sent: ${String(err)}`, {});
    });
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

  async function accept(req: Request, res: Response, attempt: Attempt): Promise<void> {
    const rawBody = bodyOf(req, config.maxBodyBytes);
    const verified = verifySignature(req, rawBody, config, Math.floor(nowMs() / 1000));
    attempt.log = attempt.log.child(
      traceFields(config.projectId, req.get('x-cloud-trace-context'), req.get('traceparent')),
    );
    warnIfPreviousSecret(verified, attempt.log);
    const payload = decodeCompletion(req, rawBody);
    const ids = idsOf(payload, verified);
    if (config.dryRun) {
      attempt.log.log('INFO', 'webhookDryRun', 'webhook verified (dry run, not published)', ids);
      res.status(200).json({ status: 'dry_run', delivery_id: ids.delivery_id });
      return;
    }
    // The same signed delivery again (a replay, a retry whose 202 was lost, or a concurrent copy):
    // it is published once, and every copy is answered with that message id.
    const { messageId, replay } = await recent.publishOnce(ids.delivery_id, replayKeyOf(req, verified), nowMs, () =>
      queue(rawBody, payload, verified, ids, {
        receivedAt: new Date(attempt.started),
        traceId: traceIdOf(req.get('x-cloud-trace-context'), req.get('traceparent')),
        log: attempt.log,
        holdBody: (until) => deps.bodies.holdUntil(req, until),
      }),
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
      res.status(200).json(healthAnswer(config));
      return;
    }
    if (!COMPLETION_PATHS.includes(path))
      throw new HttpError('not_found', 404, `no route for ${path.slice(0, SHOWN_CHARS)}`);
    if (req.method !== 'POST') throw methodNotAllowed(res, 'POST');
    if (!deps.bodies.passed(req)) {
      throw new HttpError('body_guard_missing', 500, 'internal error', {
        cause:
          'the request reached the webhook without passing its body guard: the Functions Framework server was not hooked (docs/framework-seam.md); refusing every completion until it is',
      });
    }
    return accept(req, res, attempt);
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
