/**
 * Modal webhook signing: `X-Modal-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>` and
 * `X-Modal-Timestamp: <unix seconds>`. Pure functions: a wrong signature returns a reason, it never
 * throws. Verification accepts a list of secrets so that a secret can be rotated without downtime.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { SignatureReason } from './errors';

const PREFIX = 'sha256=';
const HEX_SHA256 = /^[0-9a-f]{64}$/i;

/** The header value Modal sends for `body` signed with `secret`. */
export function sign(secret: string, body: Buffer | string): string {
  return PREFIX + createHmac('sha256', secret).update(body).digest('hex');
}

export type Verification = { ok: true; secretIndex: number; timestamp: number } | { ok: false; reason: SignatureReason };

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

  const timestampText = input.timestampHeader?.trim();
  if (!timestampText) return { ok: false, reason: 'missing_timestamp' };
  if (!/^\d{1,12}$/.test(timestampText)) return { ok: false, reason: 'malformed_timestamp' };
  const timestamp = Number(timestampText);

  const given = Buffer.from(hex.toLowerCase(), 'hex');
  const secretIndex = input.secrets.findIndex((secret) => macMatches(secret, input.rawBody, given));
  if (secretIndex < 0) return { ok: false, reason: 'bad_signature' };

  const skew = input.nowSeconds - timestamp;
  if (skew > input.toleranceSeconds) return { ok: false, reason: 'stale_timestamp' };
  if (-skew > input.toleranceSeconds) return { ok: false, reason: 'future_timestamp' };
  return { ok: true, secretIndex, timestamp };
}

function macMatches(secret: string, body: Buffer, given: Buffer): boolean {
  const expected = createHmac('sha256', secret).update(body).digest();
  return expected.length === given.length && timingSafeEqual(expected, given);
}
