/**
 * Webhook signing, two schemes. Pure functions: a wrong signature returns a reason, it never throws;
 * verification accepts a list of secrets so that a secret can be rotated without downtime.
 *
 * - `modal` (the seed's): `X-Modal-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>` and
 *   `X-Modal-Timestamp: <unix seconds>`. The timestamp is not signed.
 * - `standard` (Standard Webhooks, https://www.standardwebhooks.com): `webhook-id`,
 *   `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256(key, "id.timestamp.body")>`
 *   (a space-separated list during a sender's rotation). The timestamp is signed, so a captured
 *   request cannot be replayed with a fresh one. The key is the bytes after `whsec_` (base64) for
 *   such a secret, else the secret's own bytes: a Standard Webhooks library is given
 *   `standardSecret(secret)`.
 *
 * A request carries one scheme: with headers of both it is refused, and a request that fails the
 * bound scheme is never tried against the other.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { SignatureReason } from '../platform/errors';

const PREFIX = 'sha256=';
const HEX_SHA256 = /^[0-9a-f]{64}$/i;

/** The header value Modal sends for `body` signed with `secret`. */
export function sign(secret: string, body: Buffer | string): string {
  return PREFIX + createHmac('sha256', secret).update(body).digest('hex');
}

export type Verification =
  { ok: true; secretIndex: number; timestamp: number } | { ok: false; reason: SignatureReason };

export interface VerifyInput {
  rawBody: Buffer;
  signatureHeader: string | undefined;
  timestampHeader: string | undefined;
  /** Current secret first, then any previous one still accepted during rotation. */
  secrets: readonly string[];
  nowSeconds: number;
  toleranceSeconds: number;
}

/** Checks the signature against every accepted secret in constant time, then the timestamp window. */
export function verifyWebhook(input: VerifyInput): Verification {
  const header = input.signatureHeader?.trim();
  if (!header) return { ok: false, reason: 'missing_signature' };
  if (!header.toLowerCase().startsWith(PREFIX)) return { ok: false, reason: 'malformed_signature' };
  const hex = header.slice(PREFIX.length);
  if (!HEX_SHA256.test(hex)) return { ok: false, reason: 'malformed_signature' };

  const timestamp = parseTimestamp(input.timestampHeader);
  if (typeof timestamp !== 'number') return timestamp;

  const given = Buffer.from(hex.toLowerCase(), 'hex');
  const secretIndex = input.secrets.findIndex((secret) => macMatches(secret, input.rawBody, given));
  if (secretIndex < 0) return { ok: false, reason: 'bad_signature' };

  const outside = verifyTimestamp(timestamp, input);
  return outside ?? { ok: true, secretIndex, timestamp };
}

/** A timestamp header's seconds, or why it has none (both schemes). */
function parseTimestamp(
  header: string | undefined,
): number | { ok: false; reason: 'missing_timestamp' | 'malformed_timestamp' } {
  const text = header?.trim();
  if (!text) return { ok: false, reason: 'missing_timestamp' };
  if (!/^\d{1,12}$/.test(text)) return { ok: false, reason: 'malformed_timestamp' };
  return Number(text);
}

/**
 * The one timestamp window of both schemes (standard-webhooks' verifyTimestamp): checked after the
 * signature, so that an unsigned request learns nothing about the window.
 */
function verifyTimestamp(
  timestamp: number,
  window: { nowSeconds: number; toleranceSeconds: number },
): { ok: false; reason: 'stale_timestamp' | 'future_timestamp' } | undefined {
  const skew = window.nowSeconds - timestamp;
  if (skew > window.toleranceSeconds) return { ok: false, reason: 'stale_timestamp' };
  if (-skew > window.toleranceSeconds) return { ok: false, reason: 'future_timestamp' };
  return undefined;
}

function macMatches(secret: string, body: Buffer, given: Buffer): boolean {
  const expected = createHmac('sha256', secret).update(body).digest();
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/** The signature schemes a webhook may accept (SIGNATURE_SCHEMES). */
export type SignatureScheme = 'modal' | 'standard';

/** The HMAC key of the standard scheme for a configured secret. */
export function standardKey(secret: string): Buffer {
  return secret.startsWith('whsec_')
    ? Buffer.from(secret.slice('whsec_'.length), 'base64')
    : Buffer.from(secret, 'utf8');
}

/** The secret to give a Standard Webhooks library (`whsec_` + base64 of the key). */
export function standardSecret(secret: string): string {
  return secret.startsWith('whsec_') ? secret : `whsec_${Buffer.from(secret, 'utf8').toString('base64')}`;
}

/** The `webhook-signature` header value for one message (scheme `standard`). */
export function signStandard(secret: string, webhookId: string, timestamp: number, body: Buffer | string): string {
  return (
    'v1,' + createHmac('sha256', standardKey(secret)).update(`${webhookId}.${timestamp}.`).update(body).digest('base64')
  );
}

export interface RequestHeaders {
  /** A header's value by lower-case name. */
  get(name: string): string | undefined;
}

export type SchemeVerification =
  | { ok: true; scheme: SignatureScheme; secretIndex: number; timestamp: number; webhookId?: string }
  | { ok: false; reason: SignatureReason; scheme?: SignatureScheme };

const WEBHOOK_ID = /^[A-Za-z0-9_.:=+-]{1,256}$/;
const V1 = /^v1,([A-Za-z0-9+/]+={0,2})$/;

/** Verifies a request by the one scheme its headers name, if that scheme is allowed. */
export function verifyRequest(input: {
  rawBody: Buffer;
  headers: RequestHeaders;
  secrets: readonly string[];
  schemes: readonly SignatureScheme[];
  nowSeconds: number;
  toleranceSeconds: number;
}): SchemeVerification {
  const standard = ['webhook-id', 'webhook-timestamp', 'webhook-signature'].some(
    (h) => input.headers.get(h) !== undefined,
  );
  const modal = ['x-modal-signature', 'x-modal-timestamp'].some((h) => input.headers.get(h) !== undefined);
  if (standard && modal) return { ok: false, reason: 'mixed_schemes' };
  const scheme: SignatureScheme = standard ? 'standard' : 'modal';
  if (!input.schemes.includes(scheme)) return { ok: false, reason: 'scheme_not_allowed', scheme };
  if (scheme === 'modal') {
    const v = verifyWebhook({
      rawBody: input.rawBody,
      signatureHeader: input.headers.get('x-modal-signature'),
      timestampHeader: input.headers.get('x-modal-timestamp'),
      secrets: input.secrets,
      nowSeconds: input.nowSeconds,
      toleranceSeconds: input.toleranceSeconds,
    });
    return { ...v, scheme };
  }
  return verifyStandard(input);
}

/** The Standard Webhooks scheme: the id, the timestamp and the body signed together. */
function verifyStandard(input: {
  rawBody: Buffer;
  headers: RequestHeaders;
  secrets: readonly string[];
  nowSeconds: number;
  toleranceSeconds: number;
}): SchemeVerification {
  const scheme = 'standard';
  const id = input.headers.get('webhook-id')?.trim();
  if (!id || !WEBHOOK_ID.test(id)) return { ok: false, reason: 'missing_webhook_id', scheme };
  const header = input.headers.get('webhook-signature')?.trim();
  if (!header) return { ok: false, reason: 'missing_signature', scheme };
  const given = header
    .split(/\s+/)
    .map((part) => V1.exec(part)?.[1])
    .filter((b64): b64 is string => b64 !== undefined)
    .map((b64) => Buffer.from(b64, 'base64'));
  if (given.length === 0) return { ok: false, reason: 'malformed_signature', scheme };
  const timestamp = parseTimestamp(input.headers.get('webhook-timestamp'));
  if (typeof timestamp !== 'number') return { ...timestamp, scheme };
  // Signed as the sender wrote it: the header's digits, not the number read back.
  const signedTimestamp = input.headers.get('webhook-timestamp')!.trim();
  const secretIndex = input.secrets.findIndex((secret) => {
    const expected = createHmac('sha256', standardKey(secret))
      .update(`${id}.${signedTimestamp}.`)
      .update(input.rawBody)
      .digest();
    return given.some((g) => g.length === expected.length && timingSafeEqual(g, expected));
  });
  if (secretIndex < 0) return { ok: false, reason: 'bad_signature', scheme };
  const outside = verifyTimestamp(timestamp, input);
  return outside ? { ...outside, scheme } : { ok: true, scheme, secretIndex, timestamp, webhookId: id };
}
