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
  const at = (ms: number) => () => ms;
  const publishing = (id: string) => jest.fn(async () => id);

  it('remembers a published delivery for the window, by delivery and signature', async () => {
    const recent = createRecentDeliveries(1000);
    expect(await recent.publishOnce('dlv_1', 'sig-a', at(0), publishing('m1'))).toEqual({
      messageId: 'm1',
      replay: false,
    });
    const again = publishing('m2');
    expect(await recent.publishOnce('dlv_1', 'sig-a', at(999), again)).toEqual({ messageId: 'm1', replay: true });
    expect(again).not.toHaveBeenCalled();
    expect(await recent.publishOnce('dlv_1', 'sig-b', at(10), publishing('m3'))).toEqual({
      messageId: 'm3',
      replay: false,
    });
    expect(await recent.publishOnce('dlv_2', 'sig-a', at(10), publishing('m4'))).toEqual({
      messageId: 'm4',
      replay: false,
    });
    expect(await recent.publishOnce('dlv_1', 'sig-a', at(1001), publishing('m5'))).toEqual({
      messageId: 'm5',
      replay: false,
    });
  });

  it('keeps at most its maximum, dropping the oldest', async () => {
    const recent = createRecentDeliveries(60_000, 3);
    for (let i = 0; i < 5; i++) await recent.publishOnce(`dlv_${i}`, 's', at(i), publishing(`m${i}`));
    expect(recent.size).toBe(3);
    expect(await recent.publishOnce('dlv_0', 's', at(10), publishing('again'))).toEqual({
      messageId: 'again',
      replay: false,
    });
    expect(await recent.publishOnce('dlv_4', 's', at(10), publishing('x'))).toEqual({ messageId: 'm4', replay: true });
  });

  it('publishes concurrent copies once: every copy gets the one message id', async () => {
    const recent = createRecentDeliveries(60_000);
    let resolve!: (id: string) => void;
    const publish = jest.fn(() => new Promise<string>((r) => (resolve = r)));
    const copies = Array.from({ length: 5 }, () => recent.publishOnce('dlv_1', 's', at(0), publish));
    resolve('m1');
    const answers = await Promise.all(copies);
    expect(publish).toHaveBeenCalledTimes(1);
    expect(answers.map((a) => a.messageId)).toEqual(['m1', 'm1', 'm1', 'm1', 'm1']);
    expect(answers.filter((a) => a.replay)).toHaveLength(4);
  });

  it('forgets a failed publish: the copies that waited fail too, and the next retry publishes for real', async () => {
    const recent = createRecentDeliveries(60_000);
    let reject!: (err: Error) => void;
    const failing = () => new Promise<string>((_r, j) => (reject = j));
    const first = recent.publishOnce('dlv_1', 's', at(0), failing);
    const copy = recent.publishOnce('dlv_1', 's', at(0), failing);
    reject(new Error('pubsub down'));
    await expect(first).rejects.toThrow('pubsub down');
    await expect(copy).rejects.toThrow('pubsub down');
    expect(await recent.publishOnce('dlv_1', 's', at(1), publishing('m2'))).toEqual({ messageId: 'm2', replay: false });
  });
});
