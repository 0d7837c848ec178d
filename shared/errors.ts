/**
 * Typed errors with a stable `code` (what a dashboard counts) and an HTTP status (what the sender
 * sees). Handlers throw or return these; the edge maps them to a response and one log line.
 */

/** Why a webhook failed authentication. Each is answered with 401 and logged with its code. */
export type SignatureReason =
  | 'missing_signature'
  | 'malformed_signature'
  | 'bad_signature'
  | 'missing_timestamp'
  | 'malformed_timestamp'
  | 'stale_timestamp'
  | 'future_timestamp'
  | 'missing_webhook_id'
  | 'mixed_schemes'
  | 'scheme_not_allowed';

export type ErrorCode =
  | SignatureReason
  | 'method_not_allowed'
  | 'not_found'
  | 'unsupported_media_type'
  | 'invalid_json'
  | 'invalid_payload'
  | 'payload_too_large'
  | 'publish_failed'
  | 'claim_check_failed';

/** An error the webhook answers with `status` and a JSON body `{error: code, message}`. */
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
      | 'retry_budget_exhausted',
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
