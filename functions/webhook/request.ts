/**
 * What the webhook reads off a request and how it names what went wrong: the raw body, the ids of a
 * verified completion, what makes two requests the same signed delivery, the answer to a failed
 * signature and the log event of every error. Pure, for handler.ts.
 */
import type { Request, Response } from '@google-cloud/functions-framework';
import type { WebhookConfig } from '../../shared/config/config';
import { deliveryId } from '../../shared/contract/delivery';
import { decodeForwardedBody } from '../../shared/contract/forwarded-body';
import type { CompletionPayload } from '../../shared/contract/schemas';
import { verifyRequest } from '../../shared/contract/signature';
import { unsupportedCharset } from '../../shared/contract/messages';
import type { LogEvent } from '../../shared/observability/log';
import { HttpError, SIGNATURE_REASONS, type ErrorCode, type SignatureReason } from '../../shared/platform/errors';

/** Caller-chosen text (a path, a user agent) goes into a log line or an answer at most this long. */
export const SHOWN_CHARS = 200;

export function normalizePath(path: string): string {
  return path.length > 1 ? path.replace(/\/+$/, '') : path;
}

/** The log line an error is written as: dashboards count these events. */
export function eventOf(code: ErrorCode): LogEvent {
  if (SIGNATURE_REASONS.has(code)) return 'signatureRejected';
  if (code === 'publish_failed' || code === 'claim_check_failed') return 'publishFailed';
  if (code === 'internal_error' || code === 'body_guard_missing') return 'requestFailed';
  return 'requestRejected';
}

export type Verified = Extract<ReturnType<typeof verifyRequest>, { ok: true }>;

export type DeliveryIds = {
  webhook_id?: string;
  call_id: string;
  job_id: string;
  batch_id: string | undefined;
  delivery_id: string;
};

export function idsOf(payload: CompletionPayload, verified: Verified): DeliveryIds {
  return {
    ...(verified.webhookId ? { webhook_id: verified.webhookId } : {}),
    call_id: payload.call_id,
    job_id: payload.metadata.job_id,
    batch_id: payload.metadata.batch_id ?? undefined,
    delivery_id: deliveryId(payload.call_id, payload.status),
  };
}

/** What makes two requests the same signed delivery: the Standard Webhooks id, or the seed's body signature. */
export function replayKeyOf(req: Request, verified: Verified): string {
  return verified.scheme === 'standard'
    ? `webhook-id ${verified.webhookId ?? ''}`
    : (req.get('x-modal-signature') ?? '').trim().toLowerCase();
}

export function bodyOf(req: Request, maxBodyBytes: number): Buffer {
  const rawBody: Buffer = req.rawBody ?? Buffer.alloc(0);
  if (rawBody.length > maxBodyBytes)
    throw new HttpError('payload_too_large', 413, `body is larger than ${maxBodyBytes} bytes`);
  return rawBody;
}

export function rejectionMessage(reason: SignatureReason, config: Readonly<WebhookConfig>): string {
  switch (reason) {
    case 'stale_timestamp':
    case 'future_timestamp':
      return `timestamp outside the ${config.toleranceSeconds} s window (check the sender's clock)`;
    case 'scheme_not_allowed':
      return `this webhook accepts only ${config.signatureSchemes.join(', ')} signatures`;
    case 'mixed_schemes':
      return 'send the headers of one signature scheme, not both';
    default:
      return 'webhook signature verification failed';
  }
}

export function methodNotAllowed(res: Response, allow: string): HttpError {
  res.set('Allow', allow);
  return new HttpError('method_not_allowed', 405, `method not allowed; use ${allow}`);
}

/**
 * The public health answer: the seed's shape and nothing more. The topic, revision, tolerance and
 * rotation state are an attacker's map; the private admin's /status tells them to operators.
 */
export function healthAnswer(config: Readonly<WebhookConfig>) {
  const ready = config.secrets.length > 0 && (config.dryRun || config.completionsTopic.length > 0);
  return {
    status: ready ? 'healthy' : 'unhealthy',
    service: 'modal_webhook_handler',
    features: {
      hmac_verification: true,
      timestamp_verification: true,
      background_processing: true,
      batch_intelligence: true,
    },
  };
}

/** Step 1: the signature and timestamp over the raw bytes; nothing in the body is read before. 401 otherwise. */
export function verifySignature(
  req: Request,
  rawBody: Buffer,
  config: Readonly<WebhookConfig>,
  nowSeconds: number,
): Verified {
  const verification = verifyRequest({
    rawBody,
    headers: { get: (name) => req.get(name) },
    secrets: config.secrets,
    schemes: config.signatureSchemes,
    nowSeconds,
    toleranceSeconds: config.toleranceSeconds,
  });
  if (verification.ok) return verification;
  throw new HttpError(verification.reason, 401, rejectionMessage(verification.reason, config), {
    log: {
      reason: verification.reason,
      scheme: verification.scheme,
      bytes: rawBody.length,
      user_agent: req.get('user-agent')?.slice(0, SHOWN_CHARS),
    },
  });
}

/** Step 2: a verified body decoded by the worker's own rules, so that what is answered 202 here parses there. */
export function decodeCompletion(req: Request, rawBody: Buffer): CompletionPayload {
  if (!req.is('application/json')) {
    throw new HttpError('unsupported_media_type', 415, 'Content-Type must be application/json');
  }
  const charset = unsupportedCharset(req.get('content-type'));
  if (charset) throw new HttpError('unsupported_media_type', 415, `charset ${charset} is not supported; send UTF-8`);
  return parsePayload(rawBody);
}

/**
 * Decodes a verified body by the worker's own rules (shared/contract/messages.ts), so that what is
 * answered 202 here always parses there: malformed JSON is 400, a payload that breaks the contract 422.
 */
function parsePayload(rawBody: Buffer): CompletionPayload {
  const verdict = decodeForwardedBody(rawBody);
  if (verdict.ok) return verdict.payload;
  if (verdict.code === 'invalid_json') throw new HttpError('invalid_json', 400, verdict.message);
  throw new HttpError('invalid_payload', 422, verdict.message, { issues: verdict.issues });
}
