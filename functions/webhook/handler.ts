/**
 * The Modal completion webhook (HTTP function `modalWebhook`): verify → validate → publish.
 *
 * Nothing in the body is parsed or trusted before the HMAC signature and timestamp are verified.
 * It answers 202 only after Pub/Sub holds the message, and 503 when publishing fails so that the
 * sender retries. Bodies too large for a Pub/Sub message are stored first (claim check) and the
 * message carries their uri.
 */
import type { Request, Response } from '@google-cloud/functions-framework';
import type { WebhookConfig } from '../../shared/config';
import { deliveryId } from '../../shared/delivery';
import { HttpError } from '../../shared/errors';
import { traceFields, type Logger } from '../../shared/log';
import type { BlobStore, Clock, Publisher } from '../../shared/ports';
import { completionPayloadSchema, describeIssues, MESSAGE_SCHEMA_VERSION, type CompletionPayload } from '../../shared/schemas';
import { verifyWebhook } from '../../shared/signature';
import type { StatsBuffer } from '../../shared/stats';

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

export function createWebhookHandler(deps: WebhookDeps) {
  const { config, publisher, claims, clock, logger, stats } = deps;

  /** Sends due counters without delaying or failing the request that triggered it. */
  function flushStats(log: Logger): void {
    const due = stats?.takeIfDue(clock());
    if (!due) return;
    const attributes = { schema_version: MESSAGE_SCHEMA_VERSION, kind: 'webhook_stats' };
    publisher.publish(Buffer.from(JSON.stringify(due)), attributes).catch((err: unknown) => {
      log.log('WARNING', 'statsPublishFailed', `webhook counters not sent: ${String(err)}`, {});
    });
  }

  function health(res: Response): void {
    const secretConfigured = config.secrets.length > 0;
    const topicConfigured = config.dryRun || config.completionsTopic.length > 0;
    res.status(200).json({
      status: secretConfigured && topicConfigured ? 'healthy' : 'unhealthy',
      service: 'modal_webhook_handler',
      version: deps.version,
      features: {
        hmac_verification: true,
        timestamp_verification: true,
        background_processing: true,
        batch_intelligence: true,
        claim_check: true,
        secret_rotation: config.secrets.length > 1,
      },
      checks: {
        secret_configured: secretConfigured,
        previous_secret_configured: config.secrets.length > 1,
        topic_configured: topicConfigured,
        completions_topic: config.completionsTopic,
        timestamp_tolerance_seconds: config.toleranceSeconds,
        dry_run: config.dryRun,
      },
    });
  }

  async function accept(req: Request, res: Response, log: Logger, started: number): Promise<void> {
    const rawBody: Buffer = req.rawBody ?? Buffer.alloc(0);
    const verification = verifyWebhook({
      rawBody,
      signatureHeader: req.get('x-modal-signature'),
      timestampHeader: req.get('x-modal-timestamp'),
      secrets: config.secrets,
      nowSeconds: Math.floor(clock().getTime() / 1000),
      toleranceSeconds: config.toleranceSeconds,
    });
    if (!verification.ok) {
      log.log('WARNING', 'signatureRejected', `webhook rejected: ${verification.reason}`, {
        reason: verification.reason,
        bytes: rawBody.length,
        user_agent: req.get('user-agent'),
      });
      stats?.count(verification.reason, clock());
      res.status(401).json({ error: verification.reason, message: 'webhook signature verification failed' });
      return;
    }
    if (verification.secretIndex > 0) log.log('INFO', 'configWarning', 'webhook signed with the previous secret', {});

    if (!req.is('application/json')) {
      throw new HttpError('unsupported_media_type', 415, 'Content-Type must be application/json');
    }
    const payload = parsePayload(req, rawBody);
    const ids = {
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

    const attributes: Record<string, string> = {
      schema_version: MESSAGE_SCHEMA_VERSION,
      kind: 'completion',
      delivery_id: ids.delivery_id,
      call_id: ids.call_id,
      status: payload.status,
      job_id: ids.job_id,
      received_at: receivedAt.toISOString(),
      source: 'webhook',
      secret_index: String(verification.secretIndex),
      ...(ids.batch_id ? { batch_id: ids.batch_id } : {}),
    };
    let data = rawBody;
    if (rawBody.length > config.claimCheckThresholdBytes) {
      const stored = await claims.putIfAbsent(`claims/${ids.delivery_id}.json`, rawBody, 'application/json').catch((err: unknown) => {
        throw new HttpError('claim_check_failed', 503, 'could not store the payload; retry later', { cause: String(err) });
      });
      attributes.claim_uri = stored.uri;
      data = Buffer.from(JSON.stringify({ claim_uri: stored.uri }));
      log.log('INFO', 'claimCheckStored', 'large payload stored for the worker', { ...ids, bytes: rawBody.length, created: stored.created });
    }

    let messageId: string;
    try {
      messageId = await publisher.publish(data, attributes);
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
    stats?.count('accepted', clock());
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
      const error = err instanceof HttpError ? err : new HttpError('publish_failed', 500, 'internal error', { cause: String(err) });
      const severity = error.status >= 500 ? 'ERROR' : 'WARNING';
      log.log(severity, error.code === 'publish_failed' || error.code === 'claim_check_failed' ? 'publishFailed' : 'requestRejected', error.message, {
        code: error.code,
        status: error.status,
        method: req.method,
        ...(error.status >= 500 ? { cause: error.details?.cause } : {}),
      });
      const body: Record<string, unknown> = { error: error.code, message: error.message };
      if (error.code === 'invalid_payload') body.issues = error.details?.issues;
      if (COMPLETION_PATHS.includes(path) && req.method === 'POST') stats?.count(error.code, clock());
      res.status(error.status).json(body);
    } finally {
      flushStats(log);
    }
  };
}

function methodNotAllowed(res: Response, allow: string): HttpError {
  res.set('Allow', allow);
  return new HttpError('method_not_allowed', 405, `method not allowed; use ${allow}`);
}

/** Parses a verified body: malformed JSON is 400, a payload that fails the schema 422. */
function parsePayload(req: Request, rawBody: Buffer): CompletionPayload {
  let json: unknown = req.body;
  if (json === undefined || Buffer.isBuffer(json) || typeof json === 'string') {
    try {
      json = JSON.parse(rawBody.toString('utf8'));
    } catch {
      throw new HttpError('invalid_json', 400, 'body is not valid JSON');
    }
  }
  const parsed = completionPayloadSchema.safeParse(json);
  if (!parsed.success) {
    throw new HttpError('invalid_payload', 422, 'payload does not match the completion schema', {
      issues: describeIssues(parsed.error),
    });
  }
  return parsed.data;
}
