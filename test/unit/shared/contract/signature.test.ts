import { createHmac } from 'node:crypto';
import {
  sign,
  signStandard,
  standardSecret,
  verifyRequest,
  verifyWebhook,
} from '../../../../shared/contract/signature';

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
    expect(sign('omtx-test-secret', vector)).toBe(
      'sha256=d039d0e7cc968e6f145ff3a50bbf09b563a9a558daa9d258b12b3cc8e76cfe7a',
    );
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
    expect(
      verify({
        signatureHeader: sign(secret, body)
          .replace(/[a-f]/g, (c) => c.toUpperCase())
          .replace('SHA256=', 'sha256='),
      }).ok,
    ).toBe(true);
  });

  it('accepts the previous secret during rotation and says which secret matched', () => {
    const result = verify({ signatureHeader: sign('old-secret', body), secrets: [secret, 'old-secret'] });
    expect(result).toEqual({ ok: true, secretIndex: 1, timestamp: now });
  });

  it('rejects a bad signature even when the timestamp is also stale (authenticity first)', () => {
    expect(verify({ signatureHeader: sign('x', body), timestampHeader: String(now - 1000) })).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
  });
});

describe('verifyRequest (Standard Webhooks beside the seed scheme)', () => {
  const headers = (h: Record<string, string>) => ({ get: (name: string) => h[name] });
  const vectorBody = Buffer.from('{"call_id":"call-123456789","status":"success","metadata":{"job_id":"job-abc123"}}');
  const standard = (over: Record<string, string> = {}, s = secret, ts = now, id = 'msg_1') =>
    headers({
      'webhook-id': id,
      'webhook-timestamp': String(ts),
      'webhook-signature': signStandard(s, id, ts, body),
      ...over,
    });
  const check = (h: ReturnType<typeof headers>, extra: Partial<Parameters<typeof verifyRequest>[0]> = {}) =>
    verifyRequest({
      rawBody: body,
      headers: h,
      secrets: [secret],
      schemes: ['modal', 'standard'],
      nowSeconds: now,
      toleranceSeconds: 300,
      ...extra,
    });

  it("reproduces the specification's published vector", () => {
    expect(
      signStandard(
        'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
        'msg_p5jXN8AQM9LWM0D4loKWxJek',
        1614265330,
        '{"test": 2432232314}',
      ),
    ).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });

  it('matches the known-answer vector of docs/modal-sender.md for a plain secret', () => {
    expect(signStandard('omtx-test-secret', 'msg_omtx_vector', 1764345600, vectorBody)).toBe(
      'v1,GluBFaK0UpEJjhULdT03SrmTZDV9jTBh+9BJgBJAhEc=',
    );
    expect(signStandard(standardSecret('omtx-test-secret'), 'msg_omtx_vector', 1764345600, vectorBody)).toBe(
      'v1,GluBFaK0UpEJjhULdT03SrmTZDV9jTBh+9BJgBJAhEc=',
    );
  });

  it('accepts a standard request, and names the scheme and the webhook id', () => {
    expect(check(standard())).toEqual({
      ok: true,
      scheme: 'standard',
      secretIndex: 0,
      timestamp: now,
      webhookId: 'msg_1',
    });
    expect(check(headers({ 'x-modal-signature': sign(secret, body), 'x-modal-timestamp': String(now) }))).toMatchObject(
      { ok: true, scheme: 'modal' },
    );
  });

  it('accepts any signature of a space-separated list (a sender rotating), and the previous secret', () => {
    const list = `v1,${Buffer.alloc(32).toString('base64')} ${signStandard(secret, 'msg_1', now, body)}`;
    expect(check(standard({ 'webhook-signature': list }))).toMatchObject({ ok: true });
    expect(check(standard({}, 'previous-secret'), { secrets: [secret, 'previous-secret'] })).toMatchObject({
      ok: true,
      secretIndex: 1,
    });
  });

  it.each([
    [
      'a replay with a fresh timestamp (the timestamp is signed)',
      () => standard({ 'webhook-timestamp': String(now + 10) }),
      'bad_signature',
    ],
    ['a replay outside the window', () => standard({}, secret, now - 600), 'stale_timestamp'],
    ['another id under the same signature', () => standard({ 'webhook-id': 'msg_2' }), 'bad_signature'],
    ['no id', () => standard({ 'webhook-id': '' }), 'missing_webhook_id'],
    ['a signature of another version', () => standard({ 'webhook-signature': 'v1a,abc' }), 'malformed_signature'],
    ['headers of both schemes', () => standard({ 'x-modal-signature': sign(secret, body) }), 'mixed_schemes'],
  ])('refuses %s', (_name, h, reason) => {
    expect(check(h())).toMatchObject({ ok: false, reason });
  });

  it('never falls back to the seed scheme, and refuses a scheme the operator did not allow', () => {
    const bound = check(standard({ 'webhook-signature': 'v1,AAAA' }));
    expect(bound).toMatchObject({ ok: false, reason: 'bad_signature', scheme: 'standard' });
    const seed = headers({ 'x-modal-signature': sign(secret, body), 'x-modal-timestamp': String(now) });
    expect(check(seed, { schemes: ['standard'] })).toEqual({
      ok: false,
      reason: 'scheme_not_allowed',
      scheme: 'modal',
    });
  });
});
