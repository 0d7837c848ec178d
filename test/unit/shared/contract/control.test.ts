import { controlKey, signControl, verifyControl } from '../../../../shared/contract/control';
import { sign } from '../../../../shared/contract/signature';

const secret = 'control-test-secret-0123456789';
const now = 1_764_345_600;
const body = '{"call_id":"call-1"}';
const signed = {
  secret,
  method: 'POST',
  path: '/status',
  body,
  signature: signControl(secret, 'POST', '/status', now, body),
  timestamp: String(now),
  nowSeconds: now,
  toleranceSeconds: 300,
};

it('verifies a control request as signed', () => {
  expect(verifyControl(signed)).toBe(true);
});

it.each([
  ['replayed to /cancel', { path: '/cancel' }],
  ['replayed with another method', { method: 'PUT' }],
  ['with another body', { body: '{"call_id":"call-2"}' }],
  ['outside the window', { nowSeconds: now + 301 }],
  ['with a fresh timestamp but the old signature', { timestamp: String(now + 60), nowSeconds: now + 60 }],
  ['signed as a webhook (body only, the webhook key)', { signature: sign(secret, body) }],
  ['with another secret', { secret: 'another-secret-0123456789abcd' }],
  ['without a signature', { signature: undefined }],
  ['with a malformed timestamp', { timestamp: '12e3' }],
])('refuses a control request %s', (_name, change) => {
  expect(verifyControl({ ...signed, ...change })).toBe(false);
});

it('uses a key of its own, derived from the secret', () => {
  expect(controlKey(secret)).toHaveLength(32);
  expect(controlKey(secret).equals(Buffer.from(secret))).toBe(false);
  expect(signControl(secret, 'POST', '/status', now, body)).toMatch(/^v1=[0-9a-f]{64}$/);
});
