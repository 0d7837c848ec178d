/**
 * Signing our own requests to the Modal apps' control endpoints (`/status`, `/cancel`,
 * `/test-delivery`). Unlike a completion webhook, a control request binds everything that gives it
 * its meaning — method, path, timestamp and body — so a captured `/status {"call_id":X}` cannot be
 * replayed to `/cancel`, nor resent after the window. It is signed with a key derived from the
 * shared secret for this purpose alone (HMAC-SHA256(secret, "omtx-control-v1")), so no control
 * signature is ever a valid webhook signature or the reverse. Pure.
 *
 * Headers: `X-Omtx-Control-Timestamp: <unix seconds>`,
 * `X-Omtx-Control-Signature: v1=<hex HMAC-SHA256(key, "<timestamp>.<METHOD>.<path>." + body)>`.
 * The sender kit (examples/modal/omtx_webhooks.py, `verify_control`) checks the same.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const CONTROL_SIGNATURE_HEADER = 'x-omtx-control-signature';
export const CONTROL_TIMESTAMP_HEADER = 'x-omtx-control-timestamp';
const PURPOSE = 'omtx-control-v1';

/** The control key: derived from the shared secret, used for nothing else. */
export function controlKey(secret: string): Buffer {
  return createHmac('sha256', secret.trim()).update(PURPOSE).digest();
}

export function signControl(
  secret: string,
  method: string,
  path: string,
  timestamp: number,
  body: Buffer | string,
): string {
  const mac = createHmac('sha256', controlKey(secret))
    .update(`${timestamp}.${method.toUpperCase()}.${path}.`)
    .update(body)
    .digest('hex');
  return `v1=${mac}`;
}

/** Whether a control request is signed with `secret` for this method, path and body, within `toleranceSeconds`. */
export function verifyControl(input: {
  secret: string;
  method: string;
  path: string;
  body: Buffer | string;
  signature?: string;
  timestamp?: string;
  nowSeconds: number;
  toleranceSeconds: number;
}): boolean {
  if (!input.signature || !input.timestamp || !/^\d{1,12}$/.test(input.timestamp)) return false;
  const timestamp = Number(input.timestamp);
  if (Math.abs(input.nowSeconds - timestamp) > input.toleranceSeconds) return false;
  const expected = Buffer.from(signControl(input.secret, input.method, input.path, timestamp, input.body));
  const given = Buffer.from(input.signature.trim().toLowerCase());
  return given.length === expected.length && timingSafeEqual(given, expected);
}
