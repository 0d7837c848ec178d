/**
 * Typed errors with a stable `code` (what a dashboard counts) and an HTTP status (what the sender
 * sees). Handlers throw or return these; the edge maps them to a response and one log line.
 */

/** Why a webhook failed authentication. Each is answered with 401 and logged with its code. */
const SIGNATURE_REASON_LIST = [
  'missing_signature',
  'malformed_signature',
  'bad_signature',
  'missing_timestamp',
  'malformed_timestamp',
  'stale_timestamp',
  'future_timestamp',
  'missing_webhook_id',
  'mixed_schemes',
  'scheme_not_allowed',
] as const;
export type SignatureReason = (typeof SIGNATURE_REASON_LIST)[number];
export const SIGNATURE_REASONS: ReadonlySet<string> = new Set(SIGNATURE_REASON_LIST);

export type ErrorCode =
  | SignatureReason
  | 'method_not_allowed'
  | 'not_found'
  | 'unsupported_media_type'
  | 'invalid_json'
  | 'invalid_payload'
  | 'invalid_request'
  | 'payload_too_large'
  | 'publish_failed'
  | 'claim_check_failed'
  | 'execution_not_found'
  | 'job_not_found'
  | 'batch_not_found'
  | 'already_terminal'
  | 'not_configured'
  | 'unavailable'
  | 'unauthenticated'
  | 'forbidden'
  | 'cross_site_refused'
  | 'dead_letter_not_found'
  | 'unsupported_encoding'
  | 'request_timeout'
  | 'overloaded'
  | 'invalid_body'
  | 'internal_error'
  | 'body_guard_missing';

/**
 * An error an HTTP function (webhook, admin) answers with `status` and a JSON body
 * `{error: code, message, …}`: `details.issues` and `details.fields` are answered too, `details.cause`
 * (the underlying error of a 5xx) and `details.log` (fields for the log line) only logged.
 */
export class HttpError extends Error {
  constructor(
    readonly code: ErrorCode,
    readonly status: number,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** Configuration that cannot work. Thrown at cold start, naming the variable. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration: ${problems.join('; ')}`);
    this.name = 'ConfigError';
  }
}

/**
 * A Pub/Sub message that can never be processed (it is not ours, not JSON, or fails the schema).
 * The worker records it in the dead-letter collection and acknowledges it, so it cannot loop.
 */
export class PermanentMessageError extends Error {
  constructor(
    readonly code:
      | 'unknown_message'
      | 'invalid_envelope'
      | 'invalid_json'
      | 'invalid_payload'
      | 'claim_missing'
      | 'rejected_by_store'
      | 'too_large'
      | 'unserialisable'
      | 'invalid_path'
      | 'retry_budget_exhausted'
      | 'delivery_attempts_exhausted',
    message: string,
  ) {
    super(message);
    this.name = 'PermanentMessageError';
  }
}

/** Not an error of the message: try it again later (the worker throws it so that Pub/Sub redelivers). */
export class RetryLaterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RetryLaterError';
  }
}

/** What an HTTP function answers for an error, and what it logs: one mapping for every function. */
export interface ErrorAnswer {
  status: number;
  body: Record<string, unknown>;
  log: { severity: 'WARNING' | 'ERROR'; fields: Record<string, unknown> };
  error: HttpError;
}

/** Maps anything thrown to an answer; what is not an HttpError becomes `fallback` (a 5xx), its cause kept for the log only. */
export function errorAnswer(err: unknown, fallback: { code: ErrorCode; status: number; message: string }): ErrorAnswer {
  const error =
    err instanceof HttpError
      ? err
      : new HttpError(fallback.code, fallback.status, fallback.message, { cause: String(err) });
  const body: Record<string, unknown> = { error: error.code, message: error.message };
  if (error.details?.issues !== undefined) body.issues = error.details.issues;
  if (error.details?.fields !== undefined) Object.assign(body, error.details.fields as Record<string, unknown>);
  return {
    status: error.status,
    body,
    log: {
      severity: error.status >= 500 ? 'ERROR' : 'WARNING',
      fields: {
        code: error.code,
        status: error.status,
        ...(error.details?.log as Record<string, unknown> | undefined),
        ...(error.status >= 500 && error.details?.cause !== undefined ? { cause: error.details.cause } : {}),
      },
    },
    error,
  };
}
