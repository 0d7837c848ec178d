import { claimPath, isOwnClaimUri } from '../../../../shared/contract/claims';
import { createRecentDeliveries } from '../../../../functions/webhook/recent-deliveries';

it('names a claim by its content: the same body twice is one object, another body another', () => {
  const a = claimPath('dlv_1', Buffer.from('{"a":1}'));
  expect(a).toMatch(/^claims\/dlv_1\/[0-9a-f]{64}\.json$/);
  expect(claimPath('dlv_1', Buffer.from('{"a":1}'))).toBe(a);
  expect(claimPath('dlv_1', Buffer.from('{"a":2}'))).not.toBe(a);
});

describe('isOwnClaimUri', () => {
  const gcs = { kind: 'gcs', bucket: 'omtx-results' } as const;
  const local = { kind: 'local', dir: '/srv/results' } as const;
  const name = claimPath('dlv_1', Buffer.from('x'));
  it.each([
    [`gs://omtx-results/${name}`, gcs, true],
    [`gs://other-bucket/${name}`, gcs, false],
    ['gs://omtx-results/jobs/j/c/result.json', gcs, false],
    ['gs://omtx-results/claims/../jobs/x.json', gcs, false],
    ['http://169.254.169.254/computeMetadata/v1/', gcs, false],
    [`file:///srv/results/${name}`, local, true],
    ['file:///srv/results/claims/../../etc/passwd', local, false],
    ['file:///etc/passwd', local, false],
    [`gs://omtx-results/${name}`, local, false],
  ])('%s → %s', (uri, location, expected) => {
    expect(isOwnClaimUri(uri, location)).toBe(expected);
  });
});

describe('createRecentDeliveries', () => {
  it('remembers a published delivery for the window, by delivery and signature', () => {
    const recent = createRecentDeliveries(1000);
    recent.remember('dlv_1', 'sig-a', 'm1', 0);
    expect(recent.seen('dlv_1', 'sig-a', 999)).toBe('m1');
    expect(recent.seen('dlv_1', 'sig-b', 10)).toBeUndefined();
    expect(recent.seen('dlv_2', 'sig-a', 10)).toBeUndefined();
    expect(recent.seen('dlv_1', 'sig-a', 1001)).toBeUndefined();
  });

  it('keeps at most its maximum, dropping the oldest', () => {
    const recent = createRecentDeliveries(60_000, 3);
    for (let i = 0; i < 5; i++) recent.remember(`dlv_${i}`, 's', `m${i}`, i);
    expect(recent.size).toBe(3);
    expect(recent.seen('dlv_0', 's', 10)).toBeUndefined();
    expect(recent.seen('dlv_4', 's', 10)).toBe('m4');
  });
});
