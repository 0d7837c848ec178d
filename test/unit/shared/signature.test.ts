import { createHmac } from 'node:crypto';
import { sign, verifyWebhook } from '../../../shared/signature';

const secret = 'whsec_test_0123456789abcdef';
const body = Buffer.from('{"call_id":"call-1","status":"success","metadata":{"job_id":"job-1"}}');
const now = 1_700_000_000;

function verify(overrides: Partial<Parameters<typeof verifyWebhook>[0]>) {
  return verifyWebhook({
    rawBody: body,
    signatureHeader: sign(secret, body),
    timestampHeader: String(now),
    secrets: [secret],
    nowSeconds: now,
    toleranceSeconds: 300,
    ...overrides,
  });
}

describe('sign', () => {
  it('is sha256=<hex HMAC-SHA256 of the raw body>, as the seed guide computes it', () => {
    const expected = createHmac('sha256', secret).update(body).digest('hex');
    expect(sign(secret, body)).toBe(`sha256=${expected}`);
  });

  it('matches the known-answer vector in docs/modal-sender.md (computed independently with Python hmac)', () => {
    const vector = '{"call_id":"call-123456789","status":"success","metadata":{"job_id":"job-abc123"}}';
    expect(sign('omtx-test-secret', vector)).toBe('sha256=d039d0e7cc968e6f145ff3a50bbf09b563a9a558daa9d258b12b3cc8e76cfe7a');
  });
});

describe('verifyWebhook', () => {
  it('accepts a correctly signed, fresh request', () => {
    expect(verify({})).toEqual({ ok: true, secretIndex: 0, timestamp: now });
  });

  it.each([
    ['missing_signature', { signatureHeader: undefined }],
    ['missing_signature', { signatureHeader: '  ' }],
    ['malformed_signature', { signatureHeader: 'md5=abc' }],
    ['malformed_signature', { signatureHeader: 'sha256=nothex' }],
    ['malformed_signature', { signatureHeader: 'sha256=' + 'a'.repeat(63) }],
    ['missing_timestamp', { timestampHeader: undefined }],
    ['malformed_timestamp', { timestampHeader: '2024-01-15T10:30:00Z' }],
    ['malformed_timestamp', { timestampHeader: '-5' }],
    ['bad_signature', { signatureHeader: sign('another-secret', body) }],
    ['bad_signature', { rawBody: Buffer.from(body.toString().replace('success', 'failure')) }],
    ['stale_timestamp', { timestampHeader: String(now - 301) }],
    ['future_timestamp', { timestampHeader: String(now + 301) }],
  ] as const)('rejects with %s', (reason, overrides) => {
    expect(verify(overrides as Partial<Parameters<typeof verifyWebhook>[0]>)).toEqual({ ok: false, reason });
  });

  it('accepts the edges of the window in both directions', () => {
    expect(verify({ timestampHeader: String(now - 300) }).ok).toBe(true);
    expect(verify({ timestampHeader: String(now + 300) }).ok).toBe(true);
  });

  it('accepts upper-case hex', () => {
    expect(verify({ signatureHeader: sign(secret, body).replace(/[a-f]/g, (c) => c.toUpperCase()).replace('SHA256=', 'sha256=') }).ok).toBe(true);
  });

  it('accepts the previous secret during rotation and says which secret matched', () => {
    const result = verify({ signatureHeader: sign('old-secret', body), secrets: [secret, 'old-secret'] });
    expect(result).toEqual({ ok: true, secretIndex: 1, timestamp: now });
  });

  it('rejects a bad signature even when the timestamp is also stale (authenticity first)', () => {
    expect(verify({ signatureHeader: sign('x', body), timestampHeader: String(now - 1000) })).toEqual({ ok: false, reason: 'bad_signature' });
  });
});
